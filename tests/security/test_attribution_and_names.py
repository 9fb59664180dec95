"""Runs are attributed to who logged them, and names never resolve outside their run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from harness.inprocess import app_client
from mltrail.config import Settings
from mltrail.server.app import create_app

ADMIN = ("admin", "admin-password-123")
BOB = ("bob", "bob-password-1234")


def _app(tmp_path: Path, **overrides: object) -> FastAPI:
    settings = Settings(
        backend_store_uri=f"sqlite:///{tmp_path / 'db.sqlite'}",
        artifacts_destination=str(tmp_path / "artifacts"),
        admin_password=ADMIN[1],
        default_permission="EDIT",
    ).with_overrides(**overrides)
    return create_app(settings)


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    return _app(tmp_path)


@pytest.fixture
def admin(app: FastAPI) -> Iterator[httpx.Client]:
    with app_client(app, auth=ADMIN) as client:
        made = client.post("/api/v1/users", json={"username": BOB[0], "password": BOB[1]})
        assert made.status_code == 201, made.text
        yield client


@pytest.fixture
def bob(app: FastAPI, admin: httpx.Client) -> Iterator[httpx.Client]:
    with app_client(app, auth=BOB) as client:
        yield client


def _create_run(http: httpx.Client, experiment_id: str, **fields: object) -> dict[str, object]:
    answer = http.post(
        "/api/2.0/mlflow/runs/create", json={"experiment_id": experiment_id, **fields}
    )
    assert answer.status_code == 200, answer.text
    run: dict[str, object] = answer.json()["run"]
    return run


def _experiment(http: httpx.Client, name: str) -> str:
    answer = http.post("/api/2.0/mlflow/experiments/create", json={"name": name})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["experiment_id"])


def test_a_run_is_recorded_as_its_authors_whatever_it_claims(bob: httpx.Client) -> None:
    experiment = _experiment(bob, "shared")
    run = _create_run(
        bob, experiment, user_id="alice", tags=[{"key": "mlflow.user", "value": "alice"}]
    )
    assert run["info"]["user_id"] == "bob"  # type: ignore[index]
    tags = {t["key"]: t["value"] for t in run["data"]["tags"]}  # type: ignore[index]
    assert tags["mlflow.user"] == "bob"
    # The native API records the same.
    made = bob.post("/api/v1/runs", json={"experiment_id": experiment, "user_id": "alice"})
    assert made.status_code in (200, 201), made.text
    assert made.json()["run"]["info"]["user_id"] == "bob"


def test_admins_may_record_a_run_for_someone_else(admin: httpx.Client) -> None:
    experiment = _experiment(admin, "imports")
    run = _create_run(admin, experiment, user_id="alice")
    assert run["info"]["user_id"] == "alice"  # type: ignore[index]


def test_without_auth_the_given_user_is_kept(tmp_path: Path) -> None:
    with app_client(_app(tmp_path, no_auth=True)) as http:
        run = _create_run(http, _experiment(http, "open"), user_id="alice")
        assert run["info"]["user_id"] == "alice"  # type: ignore[index]


@pytest.mark.parametrize(
    "key",
    ["../../etc/x", "..", "../x", "a/../../b", "a/..", "..x", "/etc/x", "a//b", "a/./b", "./a",
     "a/"],
)  # fmt: skip
def test_names_with_parent_or_root_segments_are_refused(bob: httpx.Client, key: str) -> None:
    run = _create_run(bob, _experiment(bob, "names"))
    run_id = run["info"]["run_id"]  # type: ignore[index]
    for path, body in (
        ("/api/2.0/mlflow/runs/log-metric", {"run_id": run_id, "key": key, "value": 1.0,
                                             "timestamp": 1, "step": 0}),
        ("/api/2.0/mlflow/runs/log-parameter", {"run_id": run_id, "key": key, "value": "v"}),
        ("/api/2.0/mlflow/runs/set-tag", {"run_id": run_id, "key": key, "value": "v"}),
    ):  # fmt: skip
        answer = bob.post(path, json=body)
        assert answer.status_code == 400, (path, key, answer.text)
        assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    got = bob.get("/api/2.0/mlflow/runs/get", params={"run_id": run_id}).json()["run"]["data"]
    assert "metrics" not in got and "params" not in got


def test_ordinary_names_with_dots_and_colons_still_work(bob: httpx.Client) -> None:
    run = _create_run(bob, _experiment(bob, "ok-names"))
    run_id = run["info"]["run_id"]  # type: ignore[index]
    for key in ("a.b", "x:loss", "eval/loss", "a..b", "v1.0/acc", "c:"):
        answer = bob.post(
            "/api/2.0/mlflow/runs/log-metric",
            json={"run_id": run_id, "key": key, "value": 1.0, "timestamp": 1},
        )
        assert answer.status_code == 200, (key, answer.text)


@pytest.mark.parametrize(
    "path",
    [
        "1//etc/passwd",
        "%2Ftmp%2Fpwn",
        "1/%2Ftmp%2Fpwn",
        "1/%2F%2Fx",
        "1/..%2F..%2Fx",
        "/etc/passwd",
    ],
)
def test_artifact_uploads_to_absolute_paths_are_refused(
    bob: httpx.Client, tmp_path: Path, path: str
) -> None:
    for prefix in (
        "/api/2.0/mlflow-artifacts/artifacts/",
        "/ajax-api/2.0/mlflow-artifacts/artifacts/",
    ):
        answer = bob.put(prefix + path, content=b"pwned")
        assert answer.status_code == 400, (prefix + path, answer.text)
        assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    written = [p for p in (tmp_path / "artifacts").rglob("*") if p.is_file()]
    assert written == []
    assert not Path("/tmp/pwn").exists()
