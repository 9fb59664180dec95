"""Sessions, CSRF and cross-site requests, brute-force throttling, and the mlflow client."""

from __future__ import annotations

import json
import os
import re
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .conftest import PASSWORDS, AuthServer, start_auth_server

API = "/api/2.0/mlflow"


def _login(server: AuthServer, user: str, client: httpx.Client | None = None) -> httpx.Client:
    browser = client or httpx.Client(base_url=server.url, timeout=30)
    page = browser.get("/login", headers={"Accept": "text/html"})
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf is not None
    done = browser.post(
        "/login",
        data={
            "csrf_token": csrf.group(1),
            "username": user,
            "password": PASSWORDS[user],
            "next": "/",
        },
    )
    assert done.status_code == 303, done.text
    cookie = done.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    return browser


def test_session_login_logout_and_fixation(auth_server: AuthServer) -> None:
    browser = httpx.Client(base_url=auth_server.url, timeout=30)
    # A session id planted before login is never promoted.
    browser.cookies.set("mltrail_session", "attacker-chosen-value", domain="127.0.0.1", path="/")
    _login(auth_server, "alice", browser)
    values = [c.value for c in browser.cookies.jar if c.name == "mltrail_session"]
    assert values and "attacker-chosen-value" not in values
    value = values[-1]
    assert browser.get("/api/v1/users/me").json()["user"]["username"] == "alice"
    # Pages redirect anonymous browsers to the login page.
    anonymous = httpx.Client(base_url=auth_server.url, timeout=30)
    page = anonymous.get("/", headers={"Accept": "text/html"})
    assert page.status_code == 303 and "/login" in page.headers["location"]
    # Logout ends the session server-side: replaying the old cookie fails.
    csrf = browser.cookies.get("mltrail_csrf")
    assert browser.post("/logout", data={"csrf_token": csrf}).status_code == 303
    replay = httpx.Client(base_url=auth_server.url, cookies={"mltrail_session": value}, timeout=30)
    assert replay.get("/api/v1/users/me").status_code == 401


def test_cookie_requests_need_json_csrf_and_same_site(auth_server: AuthServer) -> None:
    browser = _login(auth_server, "alice")
    csrf = browser.cookies.get("mltrail_csrf")
    body = json.dumps({"name": "from-a-form"})
    # A cross-site "simple" request: text/plain body with the cookie (a JSON route refuses
    # the type before anything else looks at it).
    simple = browser.post(
        f"{API}/experiments/create", content=body, headers={"Content-Type": "text/plain"}
    )
    assert simple.status_code == 415
    form = browser.post(f"{API}/experiments/create", data={"name": "from-a-form"})
    assert form.status_code == 415
    no_token = browser.post(f"{API}/experiments/create", json={"name": "from-a-form"})
    assert no_token.status_code == 403
    cross = browser.post(
        f"{API}/experiments/create",
        json={"name": "from-a-form"},
        headers={
            "X-CSRF-Token": csrf,
            "Origin": "https://evil.example",
            "Sec-Fetch-Site": "cross-site",
        },
    )
    assert cross.status_code == 403
    admin = auth_server.client("admin")
    found = admin.get(f"{API}/experiments/get-by-name", params={"experiment_name": "from-a-form"})
    assert found.status_code == 404
    ok = browser.post(
        f"{API}/experiments/create", json={"name": "from-a-form"}, headers={"X-CSRF-Token": csrf}
    )
    assert ok.status_code == 200


@pytest.fixture
def fresh_server(tmp_path: Path) -> Iterator[AuthServer]:
    server, proc = start_auth_server(tmp_path)
    try:
        yield server
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def test_brute_force_is_throttled_and_logged(fresh_server: AuthServer) -> None:
    statuses = [
        httpx.get(
            f"{fresh_server.url}/api/v1/users/me", auth=("bob", f"guess-{i}-xxxxxxx")
        ).status_code
        for i in range(12)
    ]
    assert statuses[:10] == [401] * 10
    assert statuses[-1] == 429
    # Even the right password is refused while throttled.
    right = httpx.get(f"{fresh_server.url}/api/v1/users/me", auth=("bob", PASSWORDS["bob"]))
    assert right.status_code == 429
    log = fresh_server.log_path.read_text()
    assert "failed login: user='bob'" in log and "login throttled" in log
    assert PASSWORDS["bob"] not in log and "guess-3" not in log
    # Other users are not locked out by bob's attacker.
    assert (
        httpx.get(
            f"{fresh_server.url}/api/v1/users/me", auth=("alice", PASSWORDS["alice"])
        ).status_code
        == 200
    )


def test_tokens_basic_and_bearer(auth_server: AuthServer) -> None:
    alice = auth_server.client("alice")
    made = alice.post("/api/v1/tokens", json={"name": "ci", "expires_in_days": 1})
    assert made.status_code == 201
    token = made.json()["token"]
    listed = alice.get("/api/v1/tokens").json()["tokens"]
    assert [t["name"] for t in listed] == ["ci"] and token not in json.dumps(listed)
    bearer = httpx.get(
        f"{auth_server.url}/api/v1/users/me", headers={"Authorization": f"Bearer {token}"}
    )
    assert bearer.json()["user"]["username"] == "alice"
    basic = httpx.get(f"{auth_server.url}/api/v1/users/me", auth=("alice", token))
    assert basic.json()["user"]["username"] == "alice"
    assert httpx.get(f"{auth_server.url}/api/v1/users/me", auth=("bob", token)).status_code == 401
    assert alice.delete("/api/v1/tokens/ci").status_code == 200
    revoked = httpx.get(
        f"{auth_server.url}/api/v1/users/me", headers={"Authorization": f"Bearer {token}"}
    )
    assert revoked.status_code == 401


@pytest.mark.mlflow
def test_mlflow_client_with_its_environment(auth_server: AuthServer, tmp_path: Path) -> None:
    python = Path(
        os.environ.get("MLTRAIL_TEST_MLFLOW_PYTHON")
        or Path(__file__).resolve().parents[2] / ".venv-mlflow" / "bin" / "python"
    )
    if not python.exists():
        pytest.fail(f"mlflow client python {python} is missing (set MLTRAIL_TEST_MLFLOW_PYTHON)")
    script = tmp_path / "client.py"
    script.write_text(
        textwrap.dedent(
            """
            import json, mlflow
            from mlflow import MlflowClient
            from mlflow.exceptions import MlflowException
            out = {}
            exp = mlflow.create_experiment("mlflow-bob")
            with mlflow.start_run(experiment_id=exp) as run:
                mlflow.log_metric("m", 1.0)
                mlflow.log_text("hello", "a.txt")
            out["exp"], out["run"] = exp, run.info.run_id
            out["text"] = mlflow.artifacts.load_text(f"runs:/{run.info.run_id}/a.txt")
            print(json.dumps(out))
            """
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "MLTRAIL_"))}
    env.update(
        MLFLOW_TRACKING_URI=auth_server.url,
        MLFLOW_TRACKING_USERNAME="bob",
        MLFLOW_TRACKING_PASSWORD=PASSWORDS["bob"],
        MLFLOW_HTTP_REQUEST_MAX_RETRIES="0",
        GIT_PYTHON_REFRESH="quiet",
    )
    done = subprocess.run(
        [str(python), str(script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    made = json.loads(done.stdout.strip().splitlines()[-1])
    assert made["text"] == "hello"
    spy = tmp_path / "spy.py"
    spy.write_text(
        textwrap.dedent(
            f"""
            import json, mlflow
            from mlflow import MlflowClient
            from mlflow.exceptions import MlflowException
            out = {{}}
            client = MlflowClient()
            for name, call in [
                ("get_run", lambda: client.get_run("{made["run"]}")),
                ("get_experiment", lambda: client.get_experiment("{made["exp"]}")),
                ("history", lambda: client.get_metric_history("{made["run"]}", "m")),
                ("artifact", lambda: mlflow.artifacts.load_text("runs:/{made["run"]}/a.txt")),
                ("log", lambda: client.log_metric("{made["run"]}", "m", 5.0)),
            ]:
                try:
                    call()
                    out[name] = "allowed"
                except MlflowException as exc:
                    out[name] = exc.error_code
                except Exception as exc:
                    out[name] = type(exc).__name__
            try:
                out["by_name"] = mlflow.get_experiment_by_name("mlflow-bob") is None
            except MlflowException as exc:
                out["by_name"] = exc.error_code
            out["search"] = [e.name for e in client.search_experiments()]
            print(json.dumps(out))
            """
        )
    )
    token = httpx.post(
        f"{auth_server.url}/api/v1/tokens",
        json={"name": "mlflow"},
        auth=("alice", PASSWORDS["alice"]),
    ).json()["token"]
    env.pop("MLFLOW_TRACKING_USERNAME")
    env.pop("MLFLOW_TRACKING_PASSWORD")
    env["MLFLOW_TRACKING_TOKEN"] = token
    done = subprocess.run(
        [str(python), str(spy)], env=env, capture_output=True, text=True, timeout=240, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-4000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    for name in ("get_run", "get_experiment", "history", "log"):
        assert seen[name] == "RESOURCE_DOES_NOT_EXIST", seen
    assert seen["artifact"] != "allowed"
    assert seen["by_name"] == "PERMISSION_DENIED" and "mlflow-bob" not in seen["search"]


def test_mltrail_client_credentials(auth_server: AuthServer) -> None:
    from mltrail.client.rest import RestBackend
    from mltrail.config import load_settings

    settings = load_settings(
        {"MLTRAIL_TRACKING_USERNAME": "alice", "MLTRAIL_TRACKING_PASSWORD": PASSWORDS["alice"]},
        http_max_retries=0,
    )
    backend = RestBackend(auth_server.url, settings=settings)
    try:
        exp = backend.create_experiment("client-alice")
        assert backend.get_experiment(exp).name == "client-alice"
    finally:
        backend.close()
    token = (
        auth_server.client("alice").post("/api/v1/tokens", json={"name": "client"}).json()["token"]
    )
    backend = RestBackend(
        auth_server.url,
        settings=load_settings({"MLTRAIL_TRACKING_TOKEN": token}, http_max_retries=0),
    )
    try:
        assert backend.get_experiment(exp).name == "client-alice"
    finally:
        backend.close()
