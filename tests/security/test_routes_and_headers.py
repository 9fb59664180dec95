"""Fail closed: every route has a rule, anonymous callers get 401, broken headers never 500."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import httpx
import pytest

from mltrail.config import Settings
from mltrail.server.access import effective_routes, is_valid, rule_of

from .conftest import AuthServer


def _app_routes(tmp_path: Path) -> list[object]:
    from mltrail.server.app import create_app

    app = create_app(
        Settings(
            backend_store_uri=f"sqlite:///{tmp_path / 'db.sqlite'}",
            artifacts_destination=str(tmp_path / "artifacts"),
            admin_password="admin-password-123",
        )
    )
    return list(effective_routes(app.router.routes))


def test_every_route_declares_a_valid_rule(tmp_path: Path) -> None:
    routes = _app_routes(tmp_path)
    paths = {getattr(r, "path", "") for r in routes}
    # The walk covers every family of routes.
    for expected in ("/api/v1/runs/{run_id}", "/api/2.0/mlflow/runs/get", "/ajax-api/2.0/mlflow/runs/get",
                     "/api/2.0/mlflow-artifacts/artifacts/{path:path}", "/", "/login",
                     "/api/2.0/mlflow/users/create"):  # fmt: skip
        assert expected in paths, expected
    missing = [getattr(r, "path", repr(r)) for r in routes if rule_of(r) is None]
    assert missing == []
    assert not is_valid("experiment:frobnicate") and not is_valid("") and not is_valid(None)


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def test_anonymous_sweep_over_every_route(auth_server: AuthServer, tmp_path: Path) -> None:
    routes = _app_routes(tmp_path)
    anonymous = auth_server.client()
    checked = 0
    for route in routes:
        rule = rule_of(route)
        path = getattr(route, "path", "")
        for method in sorted(getattr(route, "methods", None) or ["GET"]):
            if method == "HEAD":
                continue
            answer = anonymous.request(method, _concrete(path))
            checked += 1
            assert answer.status_code != 500, (method, path)
            if rule == "public":
                continue
            assert answer.status_code == 401, (method, path, answer.status_code, answer.text)
            assert answer.headers["www-authenticate"] == 'Basic realm="mltrail"'
    assert checked > 150
    assert anonymous.get("/no/such/route").status_code == 401
    signed_in = auth_server.client("alice")
    assert signed_in.get("/no/such/route").status_code == 404
    assert signed_in.delete("/api/v1/definitely-not-here").status_code == 404


@pytest.mark.parametrize(
    "header",
    [
        b"Basic !!!not-base64!!!",
        b"Basic " + base64.b64encode(b"no-colon-here"),
        b"Basic " + base64.b64encode(b"\xff\xfe:\xff"),
        b"Basic " + b"A" * 65536,
        b"Bearer",
        b"Bearer mlt_abc_def",
        b"Bearer " + b"x" * 65536,
        b"Digest username=alice",
        b"Basic \xff\xfe",
        b"Basic " + base64.b64encode(b":password"),
    ],
)
def test_broken_authorization_headers(auth_server: AuthServer, header: bytes) -> None:
    import http.client
    from urllib.parse import urlparse

    target = urlparse(auth_server.url)
    conn = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
    conn.putrequest("GET", "/api/2.0/mlflow/experiments/search")
    conn.putheader("Authorization", header)
    conn.endheaders()
    status = conn.getresponse().status
    conn.close()
    assert status in (400, 401, 431), status


def test_unknown_user_and_wrong_password_look_alike(auth_server: AuthServer) -> None:
    wrong = httpx.get(f"{auth_server.url}/api/v1/users/me", auth=("alice", "not-her-password"))
    unknown = httpx.get(f"{auth_server.url}/api/v1/users/me", auth=("zed", "not-his-password"))
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
