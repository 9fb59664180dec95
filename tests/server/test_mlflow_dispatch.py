"""The MLflow RPC routes answered by the static-route table, beside the router."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.exc import OperationalError

from harness.inprocess import app_client
from mltrail.config import Settings
from mltrail.server.app import create_app

MLFLOW = "/api/2.0/mlflow"


def _app(tmp_path: Path, **settings: object) -> FastAPI:
    return create_app(
        Settings(
            backend_store_uri=f"sqlite:///{tmp_path / 'm.db'}",
            artifacts_destination=str(tmp_path / "artifacts"),
            no_auth=True,
            **settings,  # type: ignore[arg-type]
        )
    )


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    return _app(tmp_path)


@pytest.fixture
def http(app: FastAPI) -> Iterator[httpx.Client]:
    with app_client(app) as client:
        yield client


def _run(http: httpx.Client) -> str:
    exp = http.post(f"{MLFLOW}/experiments/create", json={"name": "e"}).json()["experiment_id"]
    run = http.post(f"{MLFLOW}/runs/create", json={"experiment_id": exp}).json()
    return str(run["run"]["info"]["run_id"])


def _log(
    http: httpx.Client, run_id: str, prefix: str = "/api/2.0", step: int = 0
) -> httpx.Response:
    return http.post(
        f"{prefix}/mlflow/runs/log-metric",
        json={"run_id": run_id, "key": "loss", "value": 0.5, "timestamp": 1, "step": step},
    )


def test_dispatched_routes_answer_and_are_counted_by_template(http: httpx.Client) -> None:
    run_id = _run(http)
    for step, prefix in enumerate(("/api/2.0", "/ajax-api/2.0")):
        answer = _log(http, run_id, prefix, step)
        assert answer.status_code == 200 and answer.json() == {}
    history = http.get(
        f"{MLFLOW}/metrics/get-history", params={"run_id": run_id, "metric_key": "loss"}
    )
    assert [m["step"] for m in history.json()["metrics"]] == [0, 1]
    metrics = http.get("/metrics").text
    for prefix in ("/api/2.0", "/ajax-api/2.0"):
        route = f'route="{prefix}/mlflow/runs/log-metric",status="200"'
        assert f'mltrail_http_requests_total{{method="POST",{route}}} 1.0' in metrics


def test_other_methods_and_paths_still_go_through_the_router(http: httpx.Client) -> None:
    wrong_method = http.get(f"{MLFLOW}/runs/log-metric")
    unknown = http.post(f"{MLFLOW}/runs/log-metrics", json={})
    for answer in (wrong_method, unknown):
        assert answer.status_code in (404, 405)
        assert answer.json()["error_code"] == "ENDPOINT_NOT_FOUND"


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (
            OperationalError("INSERT", {}, Exception("connection refused")),
            503,
            "TEMPORARILY_UNAVAILABLE",
        ),
        (ZeroDivisionError("secret detail"), 500, "INTERNAL_ERROR"),
    ],
)
def test_errors_go_to_the_apps_handlers(
    app: FastAPI,
    http: httpx.Client,
    monkeypatch: pytest.MonkeyPatch,
    error: Exception,
    status: int,
    code: str,
) -> None:
    run_id = _run(http)

    def fail(*_args: object, **_kwargs: object) -> None:
        raise error

    monkeypatch.setattr(app.state.services.tracking, "log_batch", fail)
    answer = _log(http, run_id)
    assert answer.status_code == status
    assert answer.json()["error_code"] == code
    assert "secret" not in answer.text and "Traceback" not in answer.text


def test_dispatch_under_a_static_prefix(tmp_path: Path) -> None:
    with app_client(_app(tmp_path, static_prefix="/mltrail")) as http:
        answer = http.post(f"/mltrail{MLFLOW}/experiments/create", json={"name": "p"})
        assert answer.status_code == 200, answer.text
        assert http.post(f"{MLFLOW}/experiments/create", json={"name": "q"}).status_code == 404
