"""The dashboard with authentication on: user B sees nothing of user A's experiment on any page,
export or page-data route, and UI changes need the same levels as the API."""

from __future__ import annotations

import csv
import html
import io
import re
from typing import Any

import httpx
import pytest

from .browser import HTML, csrf, error_message, sign_in
from .conftest import AuthServer

API = "/api/2.0/mlflow"
GHOST_RUN = "0" * 32


@pytest.fixture(scope="module")
def alices(auth_server: AuthServer) -> dict[str, Any]:
    """An experiment of user A (alice) with a run, a metric, artifacts and a registered model."""
    alice = auth_server.client("alice")
    exp = alice.post(f"{API}/experiments/create", json={"name": "alice-private"}).json()[
        "experiment_id"
    ]
    run = alice.post(
        f"{API}/runs/create", json={"experiment_id": exp, "start_time": 1, "run_name": "a-run"}
    ).json()["run"]["info"]["run_id"]
    alice.post(
        f"{API}/runs/log-batch",
        json={
            "run_id": run,
            "metrics": [
                {"key": "loss", "value": 0.25, "timestamp": 1, "step": s} for s in range(3)
            ],
            "params": [{"key": "secret_param", "value": "alice-param-value"}],
        },
    ).raise_for_status()
    for name, body in (("notes.txt", b"alice-artifact-text"), ("table.csv", b"a,b\n1,2\n")):
        alice.put(
            f"/api/2.0/mlflow-artifacts/artifacts/{exp}/{run}/artifacts/{name}", content=body
        ).raise_for_status()
    alice.post(f"{API}/registered-models/create", json={"name": "alice-model"}).raise_for_status()
    alice.post(
        f"{API}/model-versions/create",
        json={
            "name": "alice-model",
            "source": f"mlflow-artifacts:/{exp}/{run}/artifacts/model",
            "run_id": run,
        },
    ).raise_for_status()
    return {"exp": exp, "run": run}


def _not_found_page(page: httpx.Response, missing: httpx.Response, secret: str, ghost: str) -> None:
    """A hidden resource's page is exactly the page of a missing one."""
    assert page.status_code == missing.status_code == 404, (page.status_code, page.text[:300])
    assert "text/html" in page.headers["content-type"]
    assert error_message(page).replace(secret, "X") == error_message(missing).replace(ghost, "X")
    assert "alice-private" not in page.text and "alice-param-value" not in page.text


def test_anonymous_pages_redirect_to_login_and_back(
    auth_server: AuthServer, alices: dict[str, Any]
) -> None:
    anonymous = httpx.Client(base_url=auth_server.url, timeout=30)
    target = f"/experiments/{alices['exp']}?view=all"
    page = anonymous.get(target, headers=HTML)
    assert page.status_code == 303
    assert page.headers["location"] == f"/login?next=%2Fexperiments%2F{alices['exp']}%3Fview%3Dall"
    for path in ("/", "/account/tokens", "/admin/users", "/models"):
        assert anonymous.get(path, headers=HTML).status_code == 303, path
    # Page data and exports answer 401 to scripts, never data.
    for path in (
        f"/ui-api/metric-history?run_id={alices['run']}&key=loss",
        f"/experiments/{alices['exp']}/runs.csv",
    ):
        answer = anonymous.get(path)
        assert answer.status_code == 401 and "alice" not in answer.text, path
    login = anonymous.get(page.headers["location"], headers=HTML)
    done = anonymous.post(
        "/login",
        data={
            "csrf_token": csrf(anonymous),
            "username": "alice",
            "password": "alice-password-123",
            "next": next_field(login.text),
        },
    )
    assert login.status_code == 200 and done.status_code == 303
    assert done.headers["location"] == target
    # An absolute or protocol-relative "next" never leaves the site.
    anonymous.cookies.clear()
    evil = sign_in_with_next(auth_server, "//evil.example/x")
    assert evil == "/"


def next_field(login_page: str) -> str:
    found = re.search(r'name="next" value="([^"]*)"', login_page)
    assert found is not None
    return html.unescape(found.group(1))


def sign_in_with_next(server: AuthServer, next_path: str) -> str:
    browser = httpx.Client(base_url=server.url, timeout=30)
    browser.get("/login", headers=HTML)
    done = browser.post(
        "/login",
        data={
            "csrf_token": csrf(browser),
            "username": "bob",
            "password": "bob-password-1234",
            "next": next_path,
        },
    )
    location: str = done.headers["location"]
    return location


def test_header_shows_the_user_and_signs_out(auth_server: AuthServer) -> None:
    browser = sign_in(auth_server, "bob")
    page = browser.get("/", headers=HTML)
    assert page.status_code == 200
    assert 'id="account-link"' in page.text and ">bob</a>" in page.text
    assert 'id="logout"' in page.text and 'action="/logout"' in page.text
    assert "/admin/users" not in page.text  # bob is no admin
    # Signed-in pages are not kept by the browser's cache (the back button after logout).
    assert page.headers["cache-control"] == "no-store"
    assert "/admin/users" in sign_in(auth_server, "admin").get("/", headers=HTML).text
    session = browser.cookies["mltrail_session"]
    # Logout without the CSRF token is refused and the session lives on.
    assert browser.post("/logout", data={}).status_code == 403
    assert browser.get("/", headers=HTML).status_code == 200
    assert browser.post("/logout", data={"csrf_token": csrf(browser)}).status_code == 303
    replay = httpx.Client(
        base_url=auth_server.url, cookies={"mltrail_session": session}, timeout=30
    )
    again = replay.get("/", headers=HTML)
    assert again.status_code == 303 and again.headers["location"].startswith("/login")


def test_b_sees_nothing_of_a_in_the_dashboard(
    auth_server: AuthServer, alices: dict[str, Any]
) -> None:
    exp, run = alices["exp"], alices["run"]
    bob = sign_in(auth_server, "bob")
    alice = sign_in(auth_server, "alice")
    # A sees her things everywhere (so the checks below can fail).
    assert "alice-private" in alice.get("/", headers=HTML).text
    assert "a-run" in alice.get(f"/experiments/{exp}").text
    assert "alice-param-value" in alice.get(f"/runs/{run}").text
    assert "alice-param-value" in alice.get(f"/compare?runs={run}").text
    assert (
        "alice-param-value"
        in alice.get(f"/experiments/{exp}/runs.csv?col=params.secret_param").text
    )
    assert alice.get("/ui-api/metric-history", params={"run_id": run, "key": "loss"}).json()[
        "steps"
    ] == [0, 1, 2]
    assert (
        alice.get("/ui-api/artifact-raw", params={"run_id": run, "path": "notes.txt"}).content
        == b"alice-artifact-text"
    )
    assert "alice-model" in alice.get("/models").text
    assert alice.get("/models/alice-model").status_code == 200
    assert alice.get("/models/alice-model/versions/1").status_code == 200
    assert alice.get(f"/experiments/{exp}/models").status_code == 200  # fmt: skip

    home = bob.get("/", headers=HTML)
    assert home.status_code == 200 and "alice-private" not in home.text
    assert "alice-private" not in bob.get("/?view=all&q=alice").text
    _not_found_page(bob.get(f"/experiments/{exp}"), bob.get("/experiments/987654"), exp, "987654")
    _not_found_page(bob.get(f"/runs/{run}"), bob.get(f"/runs/{GHOST_RUN}"), run, GHOST_RUN)
    _not_found_page(
        bob.get(f"/compare?runs={run}"), bob.get(f"/compare?runs={GHOST_RUN}"), run, GHOST_RUN
    )
    csv_answer = bob.get(f"/experiments/{exp}/runs.csv?col=params.secret_param")
    assert csv_answer.status_code == 404 and "alice-param-value" not in csv_answer.text
    _not_found_page(
        bob.get(f"/experiments/{exp}/models"), bob.get("/experiments/987654/models"), exp, "987654"
    )
    models = bob.get("/models")
    assert models.status_code == 200 and "alice-model" not in models.text
    _not_found_page(
        bob.get("/models/alice-model"),
        bob.get("/models/nobody-model"),
        "alice-model",
        "nobody-model",
    )
    _not_found_page(
        bob.get("/models/alice-model/versions/1"),
        bob.get("/models/nobody-model/versions/1"),
        "alice-model",
        "nobody-model",
    )
    for path, params in (
        ("/ui-api/metric-history", {"run_id": run, "key": "loss"}),
        ("/ui-api/artifacts", {"run_id": run}),
        ("/ui-api/artifact-preview", {"run_id": run, "path": "notes.txt"}),
        ("/ui-api/artifact-preview", {"run_id": run, "path": "table.csv"}),
        ("/ui-api/artifact-raw", {"run_id": run, "path": "notes.txt"}),
    ):
        hidden = bob.get(path, params=params)
        missing = bob.get(path, params={**params, "run_id": GHOST_RUN})
        assert hidden.status_code == missing.status_code == 404, (path, hidden.text)
        assert hidden.json()["message"].replace(run, "X") == missing.json()["message"].replace(
            GHOST_RUN, "X"
        )
        assert b"alice-artifact-text" not in hidden.content and b"a,b" not in hidden.content


def _post(browser: httpx.Client, path: str, **fields: str) -> httpx.Response:
    return browser.post(path, data={"csrf_token": csrf(browser), **fields})


def test_ui_changes_need_edit_or_manage(auth_server: AuthServer) -> None:
    admin = auth_server.client("admin")
    alice_api = auth_server.client("alice")
    exp = alice_api.post(f"{API}/experiments/create", json={"name": "levels"}).json()[
        "experiment_id"
    ]
    run = alice_api.post(f"{API}/runs/create", json={"experiment_id": exp}).json()["run"]["info"][
        "run_id"
    ]
    bob = sign_in(auth_server, "bob")

    def state() -> tuple[str, str, dict[str, str]]:
        e = admin.get(f"{API}/experiments/get", params={"experiment_id": exp}).json()["experiment"]
        r = admin.get(f"{API}/runs/get", params={"run_id": run}).json()["run"]
        tags = {t["key"]: t["value"] for t in r["data"].get("tags", [])}
        return e["name"], r["info"]["lifecycle_stage"], tags

    changes = [
        (f"/experiments/{exp}/rename", {"name": "renamed-by-bob"}),
        (f"/runs/{run}/tags", {"key": "bob", "value": "was-here"}),
        (f"/runs/{run}/description", {"description": "bob wrote this"}),
        (f"/runs/{run}/rename", {"name": "bob-run"}),
        (f"/experiments/{exp}/runs/delete", {"run": run}),
        (f"/experiments/{exp}/delete", {}),
    ]
    before = state()
    for path, fields in changes:  # no grant: the experiment does not exist for bob
        assert _post(bob, path, **fields).status_code == 404, path
    assert state() == before

    def grant(level: str) -> None:
        alice_api.put(
            f"/api/v1/permissions/experiments/{exp}",
            json={"username": "bob", "permission": level},
        ).raise_for_status()

    grant("READ")
    assert bob.get(f"/experiments/{exp}").status_code == 200
    assert 'id="sharing-open"' not in bob.get(f"/experiments/{exp}").text
    for path, fields in changes:
        assert _post(bob, path, **fields).status_code == 403, path
    assert state() == before

    grant("EDIT")
    for path, fields in changes[:4]:
        assert _post(bob, path, **fields).status_code == 303, path
    name, _stage, tags = state()
    assert name == "renamed-by-bob" and tags["bob"] == "was-here"
    for path, fields in changes[4:]:  # deleting needs MANAGE
        assert _post(bob, path, **fields).status_code == 403, path
    assert state()[1] == "active"

    grant("MANAGE")
    assert 'id="sharing-open"' in bob.get(f"/experiments/{exp}").text
    assert _post(bob, changes[4][0], **changes[4][1]).status_code == 303
    assert state()[1] == "deleted"


def test_default_experiment_is_for_everyone_signed_in_until_an_admin_closes_it(
    auth_server: AuthServer,
) -> None:
    """Scripts that name no experiment log to the Default one: each user may use it. An
    admin may close it; then the answer says it is a permission problem, and how to solve it."""
    alice = auth_server.client("alice")
    admin = auth_server.client("admin")
    assert alice.get(f"{API}/experiments/get", params={"experiment_id": "0"}).status_code == 200
    assert alice.post(f"{API}/runs/create", json={"experiment_id": "0"}).status_code == 200
    sharing = admin.get("/api/v1/permissions/experiments/0").json()
    assert sharing["signed_in_permission"] == "EDIT"
    closed = admin.put("/api/v1/permissions/experiments/0/signed-in", json={"permission": "NONE"})
    closed.raise_for_status()
    try:
        refused = alice.post(f"{API}/runs/create", json={"experiment_id": "0"})
        assert refused.status_code == 403, refused.text
        message = refused.json()["message"]
        assert "Default experiment (id 0) is not shared with alice" in message
        assert "mltrail permissions signed-in EDIT --experiment 0" in message
        names = [e["name"] for e in alice.post(f"{API}/experiments/search", json={}).json().get("experiments", [])]  # fmt: skip
        assert "Default" not in names
        browser = sign_in(auth_server, "alice")
        assert browser.get("/experiments/0").status_code == 403
        assert '/experiments/0"' not in browser.get("/").text
        admin.put(
            "/api/v1/permissions/experiments/0", json={"username": "alice", "permission": "READ"}
        ).raise_for_status()
        assert browser.get("/experiments/0").status_code == 200
        needs_edit = alice.post(f"{API}/runs/create", json={"experiment_id": "0"})
        assert needs_edit.status_code == 403 and "alice has READ" in needs_edit.json()["message"]
        admin.delete("/api/v1/permissions/experiments/0/alice").raise_for_status()
    finally:
        admin.put(
            "/api/v1/permissions/experiments/0/signed-in", json={"permission": "EDIT"}
        ).raise_for_status()


def test_metrics_endpoint_is_for_admins(auth_server: AuthServer) -> None:
    anonymous = httpx.Client(base_url=auth_server.url, timeout=30)
    answer = anonymous.get("/metrics")
    assert answer.status_code == 401 and answer.headers["www-authenticate"].startswith("Basic")
    denied = auth_server.client("alice").get("/metrics")
    assert denied.status_code == 403 and denied.json()["error_code"] == "PERMISSION_DENIED"
    served = auth_server.client("admin").get("/metrics")
    assert served.status_code == 200 and "mltrail_" in served.text
    # A signed-in non-admin browser gets the same refusal.
    assert sign_in(auth_server, "bob").get("/metrics").status_code == 403


def test_csv_rows_follow_the_viewer(auth_server: AuthServer, alices: dict[str, Any]) -> None:
    alice = sign_in(auth_server, "alice")
    rows = list(csv.reader(io.StringIO(alice.get(f"/experiments/{alices['exp']}/runs.csv").text)))
    assert len(rows) == 2 and alices["run"] in rows[1]
