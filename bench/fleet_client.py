"""One client process of bench/fleet_bench.py, run with the mlflow virtualenv's Python.

It creates a run through the unmodified mlflow client, says ``ready``, waits for ``go`` on
stdin, then for ``--seconds`` either calls ``log_metric`` one point at a time (``calls``)
or ``log_batch`` with 1,000 points per call (``batch``). Afterwards, outside the timing,
it reads the run's history back and prints one JSON line: calls, points sent, points
stored, and the steps that are missing or stored twice.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from mlflow.entities import Metric
from mlflow.tracking import MlflowClient

BATCH = 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--experiment-id", required=True)
    ap.add_argument("--mode", choices=("calls", "batch"), required=True)
    ap.add_argument("--seconds", type=float, required=True)
    args = ap.parse_args()

    client = MlflowClient(args.url)
    run_id = client.create_run(args.experiment_id).info.run_id
    client.log_metric(run_id, "warmup", 0.0, step=0)
    print("ready", flush=True)
    sys.stdin.readline()

    calls = 0
    step = 0
    cpu0 = time.process_time()
    start = time.perf_counter()
    end = start + args.seconds
    while time.perf_counter() < end:
        if args.mode == "calls":
            client.log_metric(run_id, "m", float(step), step=step)
            step += 1
        else:
            now = int(time.time() * 1000)
            metrics = [Metric("m", float(step + i), now, step + i) for i in range(BATCH)]
            client.log_batch(run_id, metrics=metrics)
            step += BATCH
        calls += 1
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu0
    print("done", flush=True)

    history = client.get_metric_history(run_id, "m")
    steps = [m.step for m in history]
    seen = set(steps)
    print(
        json.dumps(
            {
                "run_id": run_id,
                "calls": calls,
                "points": step,
                "stored": len(steps),
                "missing": step - len(seen & set(range(step))),
                "doubled": len(steps) - len(seen),
                "wall_s": wall,
                "client_cpu_s": cpu,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
