"""Local-store speed: mltrail against MLflow, both on a SQLite file, measured in one go.

Two numbers, each the median of ``--reps`` repetitions (a new run per repetition, in a
store created before the timing starts):

- log: ``log_batch`` of ``--points`` metric points of one key (steps 0..N-1) into a run.
  mltrail gets them in one call (its client splits them into batches of
  ``Settings.batch_max_points``); MLflow gets calls of 1,000 points, its own limit.
- read: ``get_metric_history`` of that key, all N points back (checked: length and
  values).

mltrail runs in this process (this virtualenv); MLflow runs in a child process of the
virtualenv given by ``--mlflow-python`` with its SQLite store (``sqlite:///...``).
Building the metric objects and opening the store are outside the timings; process
start-up and imports are not measured for either.

Usage::

    .venv/bin/python bench/local_store.py                 # 100,000 points, 3 repetitions
    .venv/bin/python bench/local_store.py --points 10000 --reps 1   # smoke test

It prints a table and writes ``bench/results/local-store-<UTC time>.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_MLFLOW_PYTHON = REPO / ".venv-mlflow" / "bin" / "python"
MLFLOW_BATCH = 1000  # MLflow's MAX_METRICS_PER_BATCH
KEY = "loss"

# Targets from the issue: mltrail must stay under these on the reference machine.
TARGETS_S = {"log": 0.3, "read": 0.2}


def point_value(step: int) -> float:
    """A deterministic, noisy-looking curve; both tools log exactly the same values."""
    return 1.0 / (1.0 + step / 1000.0) + 0.01 * math.sin(step * 0.7)


MLFLOW_SCRIPT = r"""
import json, math, sys, time, statistics
db_path, points, reps, batch, key = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
import mlflow
from mlflow import MlflowClient
from mlflow.entities import Metric

def point_value(step):
    return 1.0 / (1.0 + step / 1000.0) + 0.01 * math.sin(step * 0.7)

client = MlflowClient(tracking_uri="sqlite:///" + db_path)
experiment_id = client.create_experiment("bench-local")
log_s, read_s = [], []
base_ts = int(time.time() * 1000)
for rep in range(reps):
    run_id = client.create_run(experiment_id).info.run_id
    metrics = [Metric(key, point_value(i), base_ts + i, i) for i in range(points)]
    t0 = time.perf_counter()
    for start in range(0, points, batch):
        client.log_batch(run_id, metrics=metrics[start:start + batch])
    log_s.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    history = client.get_metric_history(run_id, key)
    read_s.append(time.perf_counter() - t0)
    ordered = sorted(history, key=lambda m: m.step)
    ok = len(ordered) == points and all(
        m.step == i and m.value == point_value(i) for i, m in enumerate(ordered)
    )
    if not ok:
        raise SystemExit(f"MLflow history check failed: {len(history)} points")
    client.set_terminated(run_id)
print(json.dumps({"version": mlflow.__version__, "log_s": log_s, "read_s": read_s}))
"""


def bench_mltrail(workdir: Path, *, points: int, reps: int) -> dict[str, Any]:
    import mltrail
    from mltrail.client.tracking_client import TrackingClient
    from mltrail.entities import Metric

    client = TrackingClient(tracking_uri=f"sqlite:///{workdir / 'mltrail.db'}")
    experiment_id = client.create_experiment("bench-local")
    log_s: list[float] = []
    read_s: list[float] = []
    base_ts = int(time.time() * 1000)
    for _ in range(reps):
        run_id = client.create_run(experiment_id).info.run_id
        metrics = [Metric(KEY, point_value(i), base_ts + i, i) for i in range(points)]
        t0 = time.perf_counter()
        client.log_batch(run_id, metrics=metrics)
        log_s.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        history = client.get_metric_history(run_id, KEY)
        read_s.append(time.perf_counter() - t0)
        ok = len(history) == points and all(
            m.step == i and m.value == point_value(i) for i, m in enumerate(history)
        )
        if not ok:
            raise SystemExit(f"mltrail history check failed: {len(history)} points")
        client.set_terminated(run_id)
    return {"version": mltrail.__version__, "log_s": log_s, "read_s": read_s}


def bench_mlflow(workdir: Path, *, python: Path, points: int, reps: int) -> dict[str, Any]:
    script = workdir / "mlflow_local_bench.py"
    script.write_text(MLFLOW_SCRIPT)
    env = dict(os.environ)
    # No network calls from the child (MLflow 3 sends usage telemetry by default).
    env.update({"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"})
    done = subprocess.run(
        [
            str(python),
            str(script),
            str(workdir / "mlflow.db"),
            str(points),
            str(reps),
            str(MLFLOW_BATCH),
            KEY,
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"MLflow benchmark failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gb": mem_gb,
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def summarize(mltrail_res: dict[str, Any], mlflow_res: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for what in ("log", "read"):
        ours = statistics.median(mltrail_res[f"{what}_s"])
        theirs = statistics.median(mlflow_res[f"{what}_s"])
        rows.append(
            {
                "what": what,
                "mltrail_s": ours,
                "mlflow_s": theirs,
                "speedup": theirs / ours if ours > 0 else float("inf"),
                "target_s": TARGETS_S[what],
                "meets_target": ours < TARGETS_S[what],
            }
        )
    return rows


def print_table(rows: list[dict[str, Any]], *, points: int, reps: int) -> None:
    labels = {
        "log": f"log_batch, {points:,} points",
        "read": f"get_metric_history, {points:,} points",
    }
    print(f"Local SQLite store, median of {reps} repetition(s)")
    header = f"{'operation':<36} {'mltrail':>10} {'MLflow':>10} {'speed-up':>9} {'target':>8}"
    print(header)
    print("-" * len(header))
    for row in rows:
        verdict = "ok" if row["meets_target"] else "MISSED"
        print(
            f"{labels[row['what']]:<36} {row['mltrail_s']:>9.3f}s {row['mlflow_s']:>9.3f}s "
            f"{row['speedup']:>8.1f}x {'<' + str(row['target_s']) + 's':>8} {verdict}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--mlflow-python", type=Path, default=DEFAULT_MLFLOW_PYTHON)
    parser.add_argument("--out-dir", type=Path, default=HERE / "results")
    parser.add_argument("--smoke", action="store_true", help="2,000 points, 1 repetition")
    args = parser.parse_args(argv)
    if args.smoke:
        args.points, args.reps = 2_000, 1
    if not args.mlflow_python.exists():
        parser.error(f"--mlflow-python {args.mlflow_python} does not exist (make install-mlflow)")

    # Other processes on a 2-core machine skew every number: record how busy it was.
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="mltrail-bench-") as tmp:
        workdir = Path(tmp)
        (workdir / "mltrail").mkdir()
        (workdir / "mlflow").mkdir()
        ours = bench_mltrail(workdir / "mltrail", points=args.points, reps=args.reps)
        theirs = bench_mlflow(
            workdir / "mlflow", python=args.mlflow_python, points=args.points, reps=args.reps
        )

    load_after = os.getloadavg()[0]
    rows = summarize(ours, theirs)
    print_table(rows, points=args.points, reps=args.reps)
    print(f"load average (1 min): {load_before:.2f} before, {load_after:.2f} after")
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    report = {
        "benchmark": "local_store",
        "date_utc": stamp,
        "points": args.points,
        "repetitions": args.reps,
        "mlflow_batch_size": MLFLOW_BATCH,
        "machine": machine(),
        "load_average_1min": {"before": load_before, "after": load_after},
        "mltrail": ours,
        "mlflow": theirs,
        "summary": rows,
    }
    args.out_dir.mkdir(parents=True, exist_ok=True)
    out = args.out_dir / f"local-store-{stamp}.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {out.relative_to(REPO) if out.is_relative_to(REPO) else out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
