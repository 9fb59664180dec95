"""Requests whose answer is lost after the server committed them (as when a replica is killed
under a request) and that the client sends again: applied once.

The mltrail client chooses a new run's id itself, so a re-sent create is the same run; the
mlflow client re-sends ``log_metric``/``log_metrics`` with no key at all, and a point
identical to its series' latest one is stored once (MLflow keeps one row per identical
point).
"""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import httpx

from mlflow_compat.conftest import mlflow_python  # noqa: F401  (the mlflow client's python)
from mltrail.client.rest import RestBackend
from mltrail.config import Settings

from .test_faults import _LosingProxy

MLFLOW = "/api/2.0/mlflow"


def test_a_run_created_through_a_lost_answer_exists_once(make_server: Any) -> None:
    server = make_server().start()
    proxy = _LosingProxy(server.url, drop_suffixes=("/api/v1/runs",))
    backend = RestBackend(proxy.url, settings=Settings(http_max_retries=3))
    try:
        run = backend.create_run("0", run_name="once")
        assert proxy.dropped == 1
    finally:
        backend.close()
        proxy.close()
    found = httpx.post(
        f"{server.url}{MLFLOW}/runs/search", json={"experiment_ids": ["0"]}, timeout=60
    ).json()
    assert [r["info"]["run_id"] for r in found["runs"]] == [run.info.run_id]


MLFLOW_LOGGING = """
import mlflow
mlflow.set_tracking_uri({url!r})
with mlflow.start_run(run_id={run_id!r}):
    for step in range(20):
        mlflow.log_metric("loss", step / 10, step=step, timestamp=1000 + step)
    for step in range(20):
        mlflow.log_metrics({{"a": step, "b": float("nan")}}, step=step, timestamp=2000 + step)
print("done")
"""


def test_mlflow_points_resent_after_a_lost_answer_are_stored_once(
    make_server: Any,
    mlflow_python: Path,  # noqa: F811  (the fixture imported above)
    tmp_path: Path,
) -> None:
    server = make_server().start()
    backend = RestBackend(server.url, settings=Settings(http_max_retries=3))
    run_id = backend.create_run("0").info.run_id
    proxy = _LosingProxy(server.url, drop_suffixes=("/runs/log-metric", "/runs/log-batch"))
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "MLTRAIL_"))}
        done = subprocess.run(
            [str(mlflow_python), "-c", textwrap.dedent(MLFLOW_LOGGING).format(
                url=proxy.url, run_id=run_id
            )],
            env={**env, "GIT_PYTHON_REFRESH": "quiet"},
            capture_output=True,
            text=True,
            timeout=300,
            cwd=tmp_path,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        assert proxy.dropped == 40  # every request lost its first answer
    finally:
        proxy.close()
    for key, count in (("loss", 20), ("a", 20), ("b", 20)):
        history = backend.get_metric_history(run_id, key=key)
        assert len(history) == count, (key, [(m.step, m.value) for m in history])
        assert [m.step for m in history] == list(range(20))
    backend.close()
