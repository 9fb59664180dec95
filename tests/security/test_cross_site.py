"""What a web page of another site can make a browser send: cross-site writes (CSRF), DNS
rebinding, and hostile JSON bodies. Each sweep walks the whole route table, in-process."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from harness.inprocess import app_client
from mltrail.config import Settings
from mltrail.server.access import effective_routes, rule_of
from mltrail.server.api.v1 import STREAMING_UPLOAD_PREFIXES
from mltrail.server.app import MLFLOW_UPLOAD_PREFIXES, create_app
from mltrail.server.cross_site import JSON_PREFIXES

ADMIN = ("admin", "admin-password-123")
SITE = "http://localhost"
SIMPLE_TYPES = (
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
)
STATE_CHANGING = ("POST", "PUT", "PATCH", "DELETE")
# The routes that take raw bytes: the guard's own list.
BINARY_PREFIXES = STREAMING_UPLOAD_PREFIXES + MLFLOW_UPLOAD_PREFIXES


def _settings(tmp_path: Path, **overrides: Any) -> Settings:
    return Settings(
        backend_store_uri=f"sqlite:///{tmp_path / 'db.sqlite'}",
        artifacts_destination=str(tmp_path / "artifacts"),
        admin_password=ADMIN[1],
    ).with_overrides(**overrides)


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    return create_app(_settings(tmp_path, cors_allowed_origins=("https://notebook.example",)))


@pytest.fixture
def http(app: FastAPI) -> Iterator[httpx.Client]:
    with app_client(app, base_url=SITE, auth=ADMIN) as client:
        yield client


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def _state_changing_routes(app: FastAPI) -> list[tuple[str, str]]:
    found = []
    for route in effective_routes(app.router.routes):
        path = getattr(route, "path", "")
        for method in sorted(getattr(route, "methods", None) or ()):
            if method in STATE_CHANGING and rule_of(route) is not None:
                found.append((method, _concrete(path)))
    return found


def _is_json_route(method: str, path: str) -> bool:
    return (
        method in ("POST", "PUT", "PATCH")
        and path.startswith(JSON_PREFIXES)
        and not path.startswith(BINARY_PREFIXES)
    )


def test_basic_credentials_from_a_foreign_page_create_nothing(http: httpx.Client) -> None:
    # What a browser with cached Basic credentials sends from a page on evil.example.
    answer = http.post(
        "/api/2.0/mlflow/experiments/create",
        content=b'{"name": "planted"}',
        headers={"Content-Type": "text/plain", "Origin": "https://evil.example"},
    )
    assert answer.status_code == 403
    assert answer.json()["error_code"] == "PERMISSION_DENIED"
    assert "Cross-site" in answer.json()["message"]
    found = http.get(
        "/api/2.0/mlflow/experiments/get-by-name", params={"experiment_name": "planted"}
    )
    assert found.status_code == 404
    # The same body from the server's own pages, or from a client that is not a browser, works.
    for headers in ({"Origin": SITE}, {}):
        made = http.post("/api/2.0/mlflow/experiments/create", json={"name": f"ok{len(headers)}"},
                         headers=headers)  # fmt: skip
        assert made.status_code == 200, made.text


def test_every_state_changing_route_refuses_foreign_and_null_origins(
    app: FastAPI, http: httpx.Client
) -> None:
    routes = _state_changing_routes(app)
    families = {path.split("/")[1] for _, path in routes}
    assert {"api", "ajax-api", "ui-api"} <= families or {"api", "ajax-api"} <= families
    assert any(p.startswith("/api/2.0/mlflow-artifacts/") for _, p in routes)
    for method, path in routes:
        for headers in (
            {"Origin": "https://evil.example"},
            {"Origin": "null"},
            {"Referer": "https://evil.example/page.html"},
            {"Origin": "http://localhost.evil.example"},
        ):
            answer = http.request(
                method, path, content=b"{}",
                headers={**headers, "Content-Type": "application/json"},
            )  # fmt: skip
            assert answer.status_code == 403, (method, path, headers, answer.text)
            assert answer.json()["error_code"] == "PERMISSION_DENIED"


def test_an_allowed_origin_passes_the_origin_check(app: FastAPI, http: httpx.Client) -> None:
    for method, path in _state_changing_routes(app):
        answer = http.request(
            method, path, content=b"{}",
            headers={"Origin": "https://notebook.example", "Content-Type": "application/json"},
        )  # fmt: skip
        assert "Cross-site" not in answer.text, (method, path)


def test_json_routes_refuse_the_types_a_page_can_send(app: FastAPI, http: httpx.Client) -> None:
    checked = 0
    for method, path in _state_changing_routes(app):
        if not _is_json_route(method, path):
            continue
        for content_type in (*SIMPLE_TYPES, None):
            headers = {"Content-Type": content_type} if content_type else {}
            answer = http.request(method, path, content=b'{"name": "x"}', headers=headers)
            assert answer.status_code == 415, (method, path, content_type, answer.text)
            assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"
            checked += 1
    assert checked > 100


def test_no_auth_servers_refuse_cross_site_writes_too(tmp_path: Path) -> None:
    app = create_app(_settings(tmp_path, no_auth=True))
    with app_client(app, base_url=SITE) as http:
        answer = http.post(
            "/api/2.0/mlflow/experiments/create",
            content=b'{"name": "planted"}',
            headers={"Content-Type": "text/plain", "Origin": "https://evil.example"},
        )
        assert answer.status_code == 403
        assert http.post("/ui-api/none", json={}, headers={"Origin": "null"}).status_code == 403
        made = http.post("/api/2.0/mlflow/experiments/create", json={"name": "fine"})
        assert made.status_code == 200


# -- DNS rebinding ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bind", "no_auth", "accepted", "refused"),
    [
        ("127.0.0.1", True, ["localhost:5000", "127.0.0.1:5000", "[::1]:5000", "app.localhost"],
         ["evil.example", "evil.example:5000", "10.0.0.1"]),
        ("::1", False, ["localhost", "[::1]:80"], ["rebound.example"]),
        ("tracking.corp", True, ["tracking.corp:5000"], ["evil.example"]),
        ("0.0.0.0", True, ["10.1.2.3:5000", "[fe80::1]:5000", "localhost"], ["evil.example"]),
        ("0.0.0.0", False, ["evil.example", "tracking.corp"], []),
    ],
)  # fmt: skip
def test_default_allowed_hosts_follow_the_bound_address(
    tmp_path: Path, bind: str, no_auth: bool, accepted: list[str], refused: list[str]
) -> None:
    app = create_app(_settings(tmp_path, host=bind, no_auth=no_auth))
    with app_client(app, base_url=SITE, auth=None if no_auth else ADMIN) as http:
        for host in accepted:
            assert http.get("/health", headers={"Host": host}).status_code == 200, host
        for host in refused:
            answer = http.get("/api/2.0/mlflow/experiments/search", headers={"Host": host})
            assert answer.status_code == 403, host
            assert "--allowed-hosts" in answer.json()["message"]


def test_configured_allowed_hosts_replace_the_default(tmp_path: Path) -> None:
    app = create_app(_settings(tmp_path, no_auth=True, allowed_hosts=("tracking.corp",)))
    with app_client(app, base_url=SITE) as http:
        assert http.get("/health", headers={"Host": "tracking.corp"}).status_code == 200
        assert http.get("/health", headers={"Host": "localhost"}).status_code == 403
    app = create_app(_settings(tmp_path, no_auth=True, allowed_hosts=("*",)))
    with app_client(app, base_url=SITE) as http:
        assert http.get("/health", headers={"Host": "anything.example"}).status_code == 200


# -- hostile JSON --------------------------------------------------------------------------

FIELDS = ("name", "experiment_id", "run_id", "key", "value", "metrics", "params", "tags",
          "filter", "filter_string", "run_name", "description", "source", "alias", "version",
          "username", "password", "permission", "query", "variables", "path", "model_id")  # fmt: skip


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def _hostile_bodies() -> list[tuple[str, bytes]]:
    deep = _nested(1000)
    deeper = _nested(100_000)
    surrogate = b'"a\\ud800"'
    bodies = [("top-level 100000 deep", deeper)]
    for label, value in (("1000 deep", deep), ("lone surrogate", surrogate),
                         ("surrogate after NaN", b'[NaN, "a\\udfff"]')):  # fmt: skip
        body = b"{" + b",".join(b'"%s": %s' % (f.encode(), value) for f in FIELDS) + b"}"
        bodies.append((label, body))
    bodies.append(("100000 deep in a field", b'{"metrics": ' + deeper + b"}"))
    return bodies


def test_hostile_json_is_a_400_on_every_route_that_parses_json(
    app: FastAPI, http: httpx.Client
) -> None:
    checked = 0
    for method, path in _state_changing_routes(app):
        if not path.startswith(JSON_PREFIXES) or path.startswith(BINARY_PREFIXES):
            continue
        for label, body in _hostile_bodies():
            answer = http.request(
                method, path, content=body, headers={"Content-Type": "application/json"}
            )
            assert answer.status_code < 500, (method, path, label, answer.text[:300])
            checked += 1
    assert checked > 500


@pytest.mark.parametrize(
    ("path", "codes"),
    [
        ("/api/2.0/mlflow/experiments/create", {"INVALID_PARAMETER_VALUE"}),
        ("/api/2.0/mlflow/runs/log-batch", {"INVALID_PARAMETER_VALUE"}),
        # The native API says BAD_REQUEST for a body it cannot read, and
        # INVALID_PARAMETER_VALUE for a readable one whose fields are wrong.
        ("/api/v1/runs/0123456789abcdef0123456789abcdef/batch", {"BAD_REQUEST", "INVALID_PARAMETER_VALUE"}),
        ("/api/v1/experiments", {"BAD_REQUEST", "INVALID_PARAMETER_VALUE"}),
    ],
)  # fmt: skip
def test_the_reported_bodies_are_400s_with_stable_codes(
    http: httpx.Client, path: str, codes: set[str]
) -> None:
    for body in (
        b'{"name": ' + _nested(1000) + b"}",
        b'{"metrics": ' + _nested(100_000) + b"}",
        b'{"name": "a\\ud800", "run_id": "a\\ud800"}',
        b'{"name": "a\\ud800", "x": NaN}',
    ):
        answer = http.post(path, content=body, headers={"Content-Type": "application/json"})
        assert answer.status_code == 400, (path, body[:40], answer.text[:300])
        assert answer.json()["error_code"] in codes, answer.text[:300]
