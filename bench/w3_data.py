#!/usr/bin/env python3
"""The runs of trackbench's W3, written straight into a store (no HTTP), for large sizes.

trackbench's W3 creates its runs through the tracking client (about 40 runs/s against
MLflow's server: 50,000 runs would take 20 minutes per configuration). This script writes
the same runs (same generator, same seed: 5 metrics, 5 params and 3 tags per run) into
the database file directly, so that ``trackbench --w3-experiment NAME --w3-runs N`` finds
the experiment populated and only times the searches (it checks query (b)'s answer
against the same generator).

    .venv/bin/python bench/w3_data.py mltrail sqlite:///x.db --runs 50000 --name w3-50k
    .venv-mlflow/bin/python bench/w3_data.py mlflow sqlite:///y.db --runs 50000 --name w3-50k

Both tools get their rows in bulk, 1,000 runs per transaction, in their own tables and
with the rows their stores write (going through the stores' per-run calls costs 8-30 ms
per run): mltrail's ``runs``, ``params``, ``tags`` (with ``mlflow.runName``), one
one-point chunk and one summary per metric; MLflow's ``runs``, ``params``, ``tags``,
``metrics`` and ``latest_metrics``. The experiment is created by each tool's store, and
mltrail's first run is read back through its store as a check.
Runs are spread 1 ms apart in start time, in generation order.

The module runs under either virtualenv (each tool's imports are inside its function).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import uuid
from collections.abc import Iterator

# One run: ([(metric key, value)], [(param key, value)], [(tag key, value)]).
Spec = tuple[list[tuple[str, float]], list[tuple[str, str]], list[tuple[str, str]]]

W3_FILTER = "metrics.m0 > 0.5 and params.p1 = 'v3'"
W3_ORDER = "metrics.m0 DESC"
BATCH = 1000


def specs(n: int, seed: int = 1234) -> list[Spec]:
    """trackbench's W3 runs: the same draws in the same order (keep in step with it)."""
    rng = random.Random(seed)
    return [
        (
            [(f"m{j}", rng.random()) for j in range(5)],
            [(f"p{j}", f"v{rng.randrange(10)}") for j in range(5)],
            [(f"t{j}", f"tag{rng.randrange(3)}") for j in range(3)],
        )
        for _ in range(n)
    ]


def expected_b(runs: list[Spec], limit: int = 100) -> list[float]:
    """Query (b)'s answer: m0 of the matching runs, best first."""
    match = sorted(
        (ms[0][1] for ms, ps, _ in runs if ms[0][1] > 0.5 and ps[1][1] == "v3"), reverse=True
    )
    return match[:limit]


def _batches(items: list[Spec]) -> Iterator[tuple[int, list[Spec]]]:
    for start in range(0, len(items), BATCH):
        yield start, items[start : start + BATCH]


def seed_mltrail(uri: str, *, name: str, runs: list[Spec], artifact_root: str) -> str:
    import struct

    from mltrail.store import schema
    from mltrail.store.sql import open_store
    from mltrail.store.sql.experiments import create_experiment
    from mltrail.store.sql.runs import RUN_NAME_TAG

    store = open_store(uri, default_artifact_root=artifact_root)
    t0 = int(time.time() * 1000)
    try:
        with store.engine.begin() as conn:
            exp = create_experiment(
                conn, name, artifact_location=None, tags={}, creation_time=t0,
                default_root=artifact_root,
            )  # fmt: skip
        location = store.get_experiment(exp).artifact_location.rstrip("/")
        for start, part in _batches(runs):
            rows: dict[str, list[dict[str, object]]] = {
                "runs": [], "params": [], "tags": [], "chunks": [], "summaries": [],
            }  # fmt: skip
            for i, (ms, ps, tg) in enumerate(part, start):
                run_id = uuid.uuid4().hex
                rows["runs"].append(
                    dict(
                        run_id=run_id, experiment_id=int(exp), run_name=f"w3-{i}",
                        user_id="bench", status="RUNNING", start_time=t0 + i, end_time=None,
                        lifecycle_stage="active", artifact_uri=f"{location}/{run_id}/artifacts",
                    )
                )  # fmt: skip
                rows["tags"].extend(
                    dict(run_id=run_id, key=k, value=v) for k, v in [*tg, (RUN_NAME_TAG, f"w3-{i}")]
                )
                rows["params"].extend(dict(run_id=run_id, key=k, value=v) for k, v in ps)
                for key, value in ms:
                    # One point per series: a chunk of packed little-endian arrays and the
                    # (run, key) summary, as the store's append_series writes them.
                    rows["chunks"].append(
                        dict(
                            run_id=run_id, key=key, count=1, min_step=0, max_step=0,
                            steps=struct.pack("<q", 0), timestamps=struct.pack("<q", t0),
                            values=struct.pack("<d", value),
                        )
                    )  # fmt: skip
                    rows["summaries"].append(
                        dict(
                            run_id=run_id, key=key, value=value, value_kind=schema.FINITE,
                            step=0, timestamp=t0, min_value=value, max_value=value, count=1,
                            chunk_count=1,
                        )
                    )  # fmt: skip
            with store.engine.begin() as conn:
                for table, key in (
                    (schema.runs, "runs"),
                    (schema.params, "params"),
                    (schema.tags, "tags"),
                    (schema.metric_chunks, "chunks"),
                    (schema.metric_summaries, "summaries"),
                ):
                    conn.execute(table.insert(), rows[key])
        _check_mltrail(store, exp, runs)
    finally:
        store.close()
    return exp


def _check_mltrail(store: object, exp: str, runs: list[Spec]) -> None:
    """Read the first run back through the store: the rows mean what the store means."""
    from mltrail.entities import ViewType
    from mltrail.store.sql import SqlTrackingStore

    assert isinstance(store, SqlTrackingStore)
    page = store.search_runs(
        [exp], filter_string="", view_type=ViewType.ALL, max_results=1, order_by=["start_time"],
        page_token=None,
    )  # fmt: skip
    run = page[0]
    ms, ps, tg = runs[0]
    assert run.data.metrics == dict(ms), run.data.metrics
    assert run.data.params == dict(ps), run.data.params
    assert dict(tg).items() <= run.data.tags.items(), run.data.tags
    history = store.get_metric_history(run.info.run_id, key="m0", max_results=None, page_token=None)
    assert [(m.value, m.step) for m in history] == [(ms[0][1], 0)], history


def seed_mlflow(uri: str, *, name: str, runs: list[Spec], artifact_root: str) -> str:
    from mlflow.store.tracking.dbmodels import models as m
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    store = SqlAlchemyStore(uri, artifact_root)
    exp = store.create_experiment(name)
    location = store.get_experiment(exp).artifact_location
    t0 = int(time.time() * 1000)
    with store.engine.begin() as conn:
        for start, part in _batches(runs):
            rows: dict[str, list[dict[str, object]]] = {
                "runs": [], "params": [], "tags": [], "metrics": [], "latest": [],
            }  # fmt: skip
            for i, (ms, ps, tg) in enumerate(part, start):
                run_id = uuid.uuid4().hex
                rows["runs"].append(
                    dict(
                        run_uuid=run_id, name=f"w3-{i}", source_type="UNKNOWN", source_name="",
                        entry_point_name="", user_id="bench", status="RUNNING",
                        start_time=t0 + i, end_time=None, deleted_time=None, source_version="",
                        lifecycle_stage="active", artifact_uri=f"{location}/{run_id}/artifacts",
                        experiment_id=int(exp),
                    )
                )  # fmt: skip
                rows["tags"].extend(
                    dict(key=k, value=v, run_uuid=run_id)
                    for k, v in [*tg, ("mlflow.runName", f"w3-{i}"), ("mlflow.user", "bench")]
                )
                rows["params"].extend(dict(key=k, value=v, run_uuid=run_id) for k, v in ps)
                points = [
                    dict(key=k, value=v, timestamp=t0, step=0, is_nan=False, run_uuid=run_id)
                    for k, v in ms
                ]
                rows["metrics"].extend(points)
                rows["latest"].extend(points)
            for table, key in (
                (m.SqlRun.__table__, "runs"),
                (m.SqlParam.__table__, "params"),
                (m.SqlTag.__table__, "tags"),
                (m.SqlMetric.__table__, "metrics"),
                (m.SqlLatestMetric.__table__, "latest"),
            ):
                conn.execute(table.insert(), rows[key])
    store.engine.dispose()
    return exp


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("tool", choices=["mltrail", "mlflow"])
    ap.add_argument("uri", help="database URI (the schema is created when missing)")
    ap.add_argument("--runs", type=int, default=50_000)
    ap.add_argument("--name", default="w3-large", help="experiment name")
    ap.add_argument("--seed", type=int, default=1234, help="trackbench's --seed")
    ap.add_argument("--artifact-root", default="/tmp/w3-artifacts")
    args = ap.parse_args()
    runs = specs(args.runs, args.seed)
    seed = seed_mltrail if args.tool == "mltrail" else seed_mlflow
    t = time.perf_counter()
    exp = seed(args.uri, name=args.name, runs=runs, artifact_root=args.artifact_root)
    print(f"{args.tool}: experiment {exp} ({args.name}) with {len(runs)} runs "
          f"in {time.perf_counter() - t:.1f} s", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
