"""Helpers of the scale-out tests: log through several servers, then ask each the same.

Scale-out: several server processes over one database answer as one server would.

Writers log through every process alternately (the mltrail client over the native API and
raw MLflow REST calls), from several threads; then every process is asked the same
questions and must give the same, exact answers.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from mltrail.client.tracking_client import TrackingClient
from mltrail.entities import Metric, Param
from server.conftest import LiveServer

MLFLOW = "/api/2.0/mlflow"
RUNS_PER_WRITER = 6
POINTS_PER_RUN = 40  # 20 through the mltrail client, 20 through raw MLflow calls


def worker_pids(server: LiveServer) -> list[int]:
    """Child processes of the server: its forked workers, read from /proc."""
    pid = server.process.pid
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


@dataclass
class Logged:
    """What the writers sent: run id -> key -> sorted (step, value) points; run params."""

    experiment_id: str
    points: dict[str, dict[str, list[tuple[int, float]]]] = field(default_factory=dict)
    params: dict[str, dict[str, str]] = field(default_factory=dict)


def _mlflow_post(http: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = http.post(f"{MLFLOW}{path}", json=body, timeout=60)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def _writer(urls: Sequence[str], experiment_id: str, seed: int) -> Logged:
    """Create runs and log to them, switching server on every call."""
    rng = random.Random(seed)
    logged = Logged(experiment_id)
    clients = [TrackingClient(url) for url in urls]
    https = [httpx.Client(base_url=url) for url in urls]
    turn = 0
    try:
        for r in range(RUNS_PER_WRITER):
            run_id = clients[turn % len(urls)].create_run(experiment_id).info.run_id
            turn += 1
            points: dict[str, list[tuple[int, float]]] = {"loss": [], "acc": []}
            params = {"writer": str(seed), "index": str(r), "lr": rng.choice(["0.1", "0.01"])}
            for step in range(POINTS_PER_RUN // 2):
                loss, acc = rng.random(), rng.random()
                # mltrail client (native API) for loss; raw MLflow REST for acc.
                clients[turn % len(urls)].log_metric(run_id, "loss", loss, step=step)
                _mlflow_post(
                    https[(turn + 1) % len(urls)],
                    "/runs/log-metric",
                    {"run_id": run_id, "key": "acc", "value": acc, "timestamp": 1, "step": step},
                )
                turn += 1
                points["loss"].append((step, loss))
                points["acc"].append((step, acc))
            # The second half of the points: one batch each way.
            batch = [(step, rng.random()) for step in range(POINTS_PER_RUN // 2, POINTS_PER_RUN)]
            clients[turn % len(urls)].log_batch(
                run_id,
                metrics=[Metric("loss", v, 1, s) for s, v in batch],
                params=[Param(k, v) for k, v in params.items()],
            )
            _mlflow_post(
                https[(turn + 1) % len(urls)],
                "/runs/log-batch",
                {
                    "run_id": run_id,
                    "metrics": [
                        {"key": "acc", "value": v, "timestamp": 1, "step": s} for s, v in batch
                    ],
                },
            )
            turn += 1
            points["loss"].extend(batch)
            points["acc"].extend(batch)
            _mlflow_post(
                https[turn % len(urls)],
                "/runs/update",
                {"run_id": run_id, "status": "FINISHED", "end_time": 2},
            )
            logged.points[run_id] = points
            logged.params[run_id] = params
    finally:
        for http in https:
            http.close()
    return logged


def log_through(urls: Sequence[str], *, writers: int = 4) -> Logged:
    """``writers`` threads log to a new experiment through all ``urls`` alternately."""
    with httpx.Client(base_url=urls[0]) as http:
        experiment_id = _mlflow_post(
            http, "/experiments/create", {"name": f"scaleout-{random.random()}"}
        )["experiment_id"]
    with ThreadPoolExecutor(writers) as pool:
        parts = list(pool.map(lambda i: _writer(urls, experiment_id, i), range(writers)))
    total = Logged(experiment_id)
    for part in parts:
        total.points.update(part.points)
        total.params.update(part.params)
    return total


def answers(url: str, logged: Logged) -> dict[str, Any]:
    """Everything a client can ask about the logged experiment, from one server."""
    out: dict[str, Any] = {}
    with httpx.Client(base_url=url, timeout=60) as http:
        histories: dict[str, dict[str, list[tuple[int, float]]]] = {}
        for run_id, keys in logged.points.items():
            histories[run_id] = {}
            for key in keys:
                answer = http.get(
                    f"{MLFLOW}/metrics/get-history", params={"run_id": run_id, "metric_key": key}
                )
                assert answer.status_code == 200, answer.text
                histories[run_id][key] = [(m["step"], m["value"]) for m in answer.json()["metrics"]]
        out["histories"] = histories
        searches: dict[str, Any] = {}
        queries: dict[str, dict[str, Any]] = {
            "all": {"max_results": 1000},
            "filtered": {
                "filter": "metrics.loss > 0.3 and params.lr = '0.1'",
                "order_by": ["metrics.loss DESC"],
                "max_results": 1000,
            },
        }
        for name, body in queries.items():
            runs = _mlflow_post(
                http, "/runs/search", {"experiment_ids": [logged.experiment_id], **body}
            )
            searches[name] = [_run_view(r) for r in runs.get("runs", [])]
        out["searches"] = searches
        out["pages"] = _pages(http, logged.experiment_id, page_size=5)
    native = TrackingClient(url)
    out["native_counts"] = {
        run_id: {s.key: s.count for s in native.backend.get_metric_summaries(run_id)}
        for run_id in logged.points
    }
    return out


def _run_view(run: dict[str, Any]) -> tuple[Any, ...]:
    data = run.get("data", {})
    metrics = sorted((m["key"], m["value"], m["step"]) for m in data.get("metrics", []))
    params = sorted((p["key"], p["value"]) for p in data.get("params", []))
    return (run["info"]["run_id"], run["info"]["status"], tuple(metrics), tuple(params))


def _pages(http: httpx.Client, experiment_id: str, *, page_size: int) -> list[list[str]]:
    pages: list[list[str]] = []
    token = None
    while True:
        body: dict[str, Any] = {
            "experiment_ids": [experiment_id],
            "max_results": page_size,
            "order_by": ["params.index ASC", "attributes.run_id ASC"],
        }
        if token:
            body["page_token"] = token
        answer = _mlflow_post(http, "/runs/search", body)
        pages.append([r["info"]["run_id"] for r in answer.get("runs", [])])
        token = answer.get("next_page_token")
        if not token:
            return pages


def expected_answers(logged: Logged) -> dict[str, Any]:
    """The exact histories and the searches' answers, computed from what was sent."""
    histories = {
        run_id: {key: sorted(points) for key, points in keys.items()}
        for run_id, keys in logged.points.items()
    }
    native_counts = {
        run_id: {key: len(points) for key, points in keys.items()}
        for run_id, keys in logged.points.items()
    }
    latest_loss = {run_id: keys["loss"][-1][1] for run_id, keys in histories.items()}
    filtered = sorted(
        (r for r, v in latest_loss.items() if v > 0.3 and logged.params[r]["lr"] == "0.1"),
        key=lambda r: -latest_loss[r],
    )
    return {"histories": histories, "native_counts": native_counts, "filtered_ids": filtered}


def check_against_expected(got: dict[str, Any], logged: Logged) -> None:
    want = expected_answers(logged)
    assert got["histories"] == want["histories"]
    assert got["native_counts"] == want["native_counts"]
    assert sorted(r[0] for r in got["searches"]["all"]) == sorted(logged.points)
    assert all(r[1] == "FINISHED" for r in got["searches"]["all"])
    assert [r[0] for r in got["searches"]["filtered"]] == want["filtered_ids"]
    flat = [run_id for page in got["pages"] for run_id in page]
    assert sorted(flat) == sorted(logged.points)  # every run once, none twice
    assert all(len(page) == 5 for page in got["pages"][:-1])
