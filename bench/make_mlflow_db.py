"""A large MLflow SQLite store, fast: MLflow creates the schema, rows are inserted in bulk.

Run with the mlflow client's python (MLflow 3.17.2)::

    .venv-mlflow/bin/python bench/make_mlflow_db.py OUT.db --runs 10000 --params 5 \\
        --metrics 5 --steps 100 --big-run-points 1000000

Logging this through the mlflow client would take hours (notes.md: a minute for 6,000
points one call at a time). MLflow's own store creates the database (tables, indexes,
alembic revision, the Default experiment) and the experiment; runs, params, tags, metric
points and latest metrics are then written with executemany in the layout MLflow's
SQLAlchemy store writes them (checked at the end by reading a run back with MlflowClient).
Prints a JSON summary on its last line.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sqlite3
import sys
import time
import uuid

ROWS = 100_000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("db")
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--params", type=int, default=5)
    parser.add_argument("--metrics", type=int, default=5)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--big-run-points", type=int, default=1_000_000)
    parser.add_argument("--experiment", default="bench")
    args = parser.parse_args()

    from mlflow import MlflowClient
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    uri = f"sqlite:///{os.path.abspath(args.db)}"
    root = os.path.join(os.path.dirname(os.path.abspath(args.db)), "mlruns")
    store = SqlAlchemyStore(uri, root)
    exp_id = store.create_experiment(args.experiment)
    store.engine.dispose()
    started = time.time()
    base = int(started * 1000) - 86_400_000
    conn = sqlite3.connect(args.db)
    run_ids = [uuid.uuid4().hex for _ in range(args.runs)]
    conn.executemany(
        "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, "
        "status, start_time, end_time, source_version, lifecycle_stage, artifact_uri, "
        "experiment_id) VALUES (?, ?, 'LOCAL', '', '', 'bench', 'FINISHED', ?, ?, '', 'active', ?, ?)",
        [
            (rid, f"run-{i}", base + i, base + i + 1000, f"{root}/{exp_id}/{rid}/artifacts", exp_id)
            for i, rid in enumerate(run_ids)
        ],
    )
    conn.executemany(
        "INSERT INTO tags (key, value, run_uuid) VALUES (?, ?, ?)",
        [(k, v, rid) for i, rid in enumerate(run_ids)
         for k, v in (("mlflow.runName", f"run-{i}"), ("mlflow.user", "bench"))],
    )  # fmt: skip
    conn.executemany(
        "INSERT INTO params (key, value, run_uuid) VALUES (?, ?, ?)",
        [
            (f"p{j}", str(i * 7 + j), rid)
            for i, rid in enumerate(run_ids)
            for j in range(args.params)
        ],
    )
    points = 0
    rows: list[tuple[object, ...]] = []
    latest: list[tuple[object, ...]] = []
    for i, rid in enumerate(run_ids):
        for j in range(args.metrics):
            for s in range(args.steps):
                rows.append((f"m{j}", math.sin(i + j + s / 10), base + s, rid, s, 0))
            last = args.steps - 1
            latest.append((f"m{j}", math.sin(i + j + last / 10), base + last, last, 0, rid))
            if len(rows) >= ROWS:
                points += _flush(conn, rows)
    points += _flush(conn, rows)
    if args.big_run_points:
        big = uuid.uuid4().hex
        conn.execute(
            "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, "
            "user_id, status, start_time, end_time, source_version, lifecycle_stage, "
            "artifact_uri, experiment_id) VALUES (?, 'big', 'LOCAL', '', '', 'bench', "
            "'FINISHED', ?, ?, '', 'active', ?, ?)",
            (big, base, base + 1000, f"{root}/{exp_id}/{big}/artifacts", exp_id),
        )
        conn.execute(
            "INSERT INTO tags (key, value, run_uuid) VALUES ('mlflow.runName', 'big', ?)", (big,)
        )
        n = args.big_run_points
        for start in range(0, n, ROWS):
            rows = [
                ("loss", 1.0 / (s + 1), base + s, big, s, 0)
                for s in range(start, min(n, start + ROWS))
            ]
            points += _flush(conn, rows)
        latest.append(("loss", 1.0 / n, base + n - 1, n - 1, 0, big))
        run_ids.append(big)
    conn.executemany(
        "INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        latest,
    )
    conn.commit()
    conn.close()
    # MLflow reads what was written as its own.
    client = MlflowClient(uri)
    run = client.get_run(run_ids[0])
    assert len(run.data.params) == args.params and len(run.data.metrics) == args.metrics
    assert len(client.get_metric_history(run_ids[0], "m0")) == args.steps
    summary = {
        "uri": uri,
        "experiment_id": exp_id,
        "runs": len(run_ids),
        "points": points,
        "seconds": round(time.time() - started, 1),
    }
    sys.stdout.write(json.dumps(summary) + "\n")


def _flush(conn: sqlite3.Connection, rows: list[tuple[object, ...]]) -> int:
    conn.executemany(
        "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) VALUES (?, ?, ?, ?, ?, ?)",
        rows,
    )
    n = len(rows)
    rows.clear()
    return n


if __name__ == "__main__":
    main()
