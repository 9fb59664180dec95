"""A page of ``runs/search`` through the MLflow REST adapter: a fixed number of queries, and
latest metrics with the steps and timestamps they were logged with."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from mltrail.config import Settings
from mltrail.server.app import create_app

MLFLOW = "/api/2.0/mlflow"


@pytest.fixture
def http(tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(
        Settings(
            backend_store_uri=f"sqlite:///{tmp_path / 'm.db'}",
            artifacts_destination=str(tmp_path / "artifacts"),
            no_auth=True,
        )
    )
    with TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False) as client:
        yield client


def _experiment_with_runs(http: TestClient, name: str, count: int) -> str:
    exp = http.post(f"{MLFLOW}/experiments/create", json={"name": name}).json()["experiment_id"]
    for i in range(count):
        run = http.post(f"{MLFLOW}/runs/create", json={"experiment_id": exp}).json()
        run_id = run["run"]["info"]["run_id"]
        value: Any = "NaN" if i == 1 else ("Infinity" if i == 2 else i / 10)
        answer = http.post(
            f"{MLFLOW}/runs/log-batch",
            json={
                "run_id": run_id,
                "metrics": [
                    {"key": "m", "value": value, "timestamp": 1000 + i, "step": 7 * i},
                    {"key": "n", "value": 1.0, "timestamp": 5, "step": 3},
                ],
                "params": [{"key": "p", "value": f"v{i % 3}"}],
                "tags": [{"key": "t", "value": "x"}],
            },
        )
        assert answer.status_code == 200, answer.text
    return str(exp)


def _statements_of(http: TestClient, body: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    engine = http.app.state.services.engine  # type: ignore[attr-defined]
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(args[2])

    event.listen(engine, "before_cursor_execute", record)
    try:
        answer = http.post(f"{MLFLOW}/runs/search", json=body)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert answer.status_code == 200, answer.text
    return [s for s in seen if not s.lstrip().upper().startswith("BEGIN")], answer.json()


def test_a_page_costs_the_same_queries_whatever_its_size(http: TestClient) -> None:
    small = _experiment_with_runs(http, "small", 3)
    big = _experiment_with_runs(http, "big", 30)
    counts = []
    for exp in (small, big):
        for filter_string in ("", "params.p = 'v1'", "metrics.n > 0 and params.p != 'v2'"):
            body = {"experiment_ids": [exp], "filter": filter_string, "order_by": ["metrics.m"]}
            statements, found = _statements_of(http, body)
            assert found["runs"], filter_string
            counts.append(len(statements))
    # The probe of the join order (SQLite, with a filter), the page, its params and tags,
    # its metrics: never one query per run.
    assert max(counts) <= 4, counts
    assert counts[:3] == counts[3:], counts


def test_latest_metrics_keep_their_step_and_timestamp(http: TestClient) -> None:
    exp = _experiment_with_runs(http, "e", 4)
    _, found = _statements_of(
        http, {"experiment_ids": [exp], "filter": "metrics.n = 1", "order_by": ["metrics.m DESC"]}
    )
    got = [
        {m["key"]: (m["value"], m["timestamp"], m["step"]) for m in run["data"]["metrics"]}
        for run in found["runs"]
    ]
    # Infinity sorts as the largest number, NaN after every number.
    assert [g["m"][1:] for g in got] == [(1002, 14), (1003, 21), (1000, 0), (1001, 7)]
    # Infinity goes out as the largest double, as MLflow's SQL store answers it.
    assert got[0]["m"][0] == sys.float_info.max and got[1]["m"][0] == 0.3
    assert got[2]["m"][0] == 0.0 and got[3]["m"][0] == "NaN"
    assert all(g["n"] == (1.0, 5, 3) for g in got)
