"""Small MLflow logging writes run on the server's event loop when SQLite lets them write at
once, and in a worker thread when another writer holds the lock; the loop never waits."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from harness.inprocess import InProcessServer
from mltrail.server import threads
from mltrail.server.api.mlflow import routing

API = "/api/2.0/mlflow"


@pytest.fixture
def server(app_server: Callable[..., InProcessServer]) -> InProcessServer:
    return app_server()


@pytest.fixture
def handed_to_threads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the handlers that went to a worker thread."""
    names: list[str] = []
    original = routing.run_blocking

    async def counting(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        names.append(getattr(fn, "__name__", "?"))
        return await original(fn, *args, **kwargs)

    monkeypatch.setattr(routing, "run_blocking", counting)
    monkeypatch.setattr(threads, "run_blocking", counting)
    return names


def _database(server: InProcessServer) -> str:
    database = server.app.state.services.engine.url.database
    assert database
    return str(database)


def _new_run(client: httpx.Client) -> str:
    experiment = client.post(f"{API}/experiments/create", json={"name": "quick"}).json()
    run = client.post(
        f"{API}/runs/create", json={"experiment_id": experiment["experiment_id"]}
    ).json()
    return str(run["run"]["info"]["run_id"])


def _metric(run_id: str, step: int, **extra: Any) -> dict[str, Any]:
    return {"run_id": run_id, "key": "loss", "value": 0.5, "timestamp": 1, "step": step, **extra}


def _history(client: httpx.Client, run_id: str) -> list[int]:
    answer = client.get(
        f"{API}/metrics/get-history", params={"run_id": run_id, "metric_key": "loss"}
    )
    return sorted(m["step"] for m in answer.json().get("metrics", []))


@pytest.fixture
def client(server: InProcessServer) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


def test_logging_writes_stay_on_the_event_loop(
    client: httpx.Client, handed_to_threads: list[str]
) -> None:
    run_id = _new_run(client)
    handed_to_threads.clear()
    assert client.post(f"{API}/runs/log-metric", json=_metric(run_id, 1)).status_code == 200
    batch = {
        "run_id": run_id,
        "metrics": [_metric(run_id, 2)],
        "params": [{"key": "p", "value": "1"}],
    }
    assert client.post(f"{API}/runs/log-batch", json=batch).status_code == 200
    param = {"run_id": run_id, "key": "q", "value": "2"}
    assert client.post(f"{API}/runs/log-parameter", json=param).status_code == 200
    assert client.post(f"{API}/runs/set-tag", json=param).status_code == 200
    assert handed_to_threads == []
    assert _history(client, run_id) == [1, 2]


def test_a_metric_linked_to_a_model_goes_to_a_thread(
    client: httpx.Client, handed_to_threads: list[str]
) -> None:
    run_id = _new_run(client)
    model = client.post(
        "/api/2.0/mlflow/logged-models", json={"experiment_id": "0", "source_run_id": run_id}
    )
    model_id = model.json()["model"]["info"]["model_id"]
    handed_to_threads.clear()
    linked = _metric(run_id, 3, model_id=model_id)
    assert client.post(f"{API}/runs/log-metric", json=linked).status_code == 200
    assert handed_to_threads == ["log_metric"]


def test_a_large_batch_goes_to_a_thread(client: httpx.Client, handed_to_threads: list[str]) -> None:
    run_id = _new_run(client)
    handed_to_threads.clear()
    small = {"run_id": run_id, "metrics": [_metric(run_id, step) for step in range(100)]}
    assert client.post(f"{API}/runs/log-batch", json=small).status_code == 200
    assert handed_to_threads == []
    large = {"run_id": run_id, "metrics": [_metric(run_id, step) for step in range(100, 201)]}
    assert client.post(f"{API}/runs/log-batch", json=large).status_code == 200
    assert handed_to_threads == ["log_batch"]
    assert _history(client, run_id) == list(range(201))


def test_a_locked_database_moves_the_write_to_a_thread_and_the_loop_keeps_answering(
    server: InProcessServer, client: httpx.Client, handed_to_threads: list[str]
) -> None:
    run_id = _new_run(client)
    handed_to_threads.clear()
    other = sqlite3.connect(_database(server), isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # another process's writer holds the lock
    answers: list[int] = []
    sender = threading.Thread(
        target=lambda: answers.append(
            client.post(f"{API}/runs/log-metric", json=_metric(run_id, 7)).status_code
        )
    )
    try:
        sender.start()
        deadline = time.monotonic() + 10
        while not handed_to_threads and time.monotonic() < deadline:
            time.sleep(0.01)
        assert handed_to_threads == ["log_metric"]
        # The write waits for the lock in its thread; the event loop answers meanwhile.
        started = time.monotonic()
        # (The same client: closing a second one would close the shared in-process transport.)
        assert client.get("/health").status_code == 200
        assert time.monotonic() - started < 2.0
        assert sender.is_alive() and answers == []
    finally:
        other.execute("COMMIT")
        other.close()
        sender.join(30)
    assert answers == [200]
    assert _history(client, run_id) == [7]
