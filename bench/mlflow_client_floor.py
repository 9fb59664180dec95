#!/usr/bin/env python3
"""What the mlflow client itself spends turning server answers into objects (no server).

W3 and W4 go through ``MlflowClient``: after the answer has arrived, the client parses the
JSON into protobuf messages (``parse_dict``) and builds its entities (``from_proto``).
That cost is the same whatever server answered, so it bounds how much faster any server
can make these workloads look. Run it with the mlflow venv's python:

    .venv-mlflow/bin/python bench/mlflow_client_floor.py
    .venv-mlflow/bin/python bench/mlflow_client_floor.py --smoke   # small pages, 1 repetition
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from typing import Any

from mlflow.entities import Metric, Run
from mlflow.protos.service_pb2 import GetMetricHistory, SearchRuns
from mlflow.utils.proto_json_utils import parse_dict


def run_json(i: int) -> dict[str, Any]:
    """A run as mltrail answers W3's runs (5 metrics, 5 params, 3 tags + 2 system tags)."""
    return {
        "info": {
            "run_id": f"{i:032x}", "run_uuid": f"{i:032x}", "run_name": "r", "experiment_id": "1",
            "user_id": "u", "status": "FINISHED", "start_time": 1, "end_time": 2,
            "artifact_uri": "mlflow-artifacts:/1/x/artifacts", "lifecycle_stage": "active",
        },
        "data": {
            "metrics": [
                {"key": f"m{j}", "value": random.random(), "timestamp": 1, "step": 0}
                for j in range(5)
            ],
            "params": [{"key": f"p{j}", "value": "v1"} for j in range(5)],
            "tags": [{"key": f"t{j}", "value": "tag1"} for j in range(3)]
            + [{"key": "mlflow.user", "value": "u"}, {"key": "mlflow.runName", "value": "r"}],
        },
        "inputs": {},
    }  # fmt: skip


def parse_runs(text: str) -> list[Run]:
    message = SearchRuns.Response()
    parse_dict(json.loads(text), message)
    return [Run.from_proto(r) for r in message.runs]


def parse_history(text: str) -> list[Metric]:
    message = GetMetricHistory.Response()
    parse_dict(json.loads(text), message)
    return [Metric.from_proto(m) for m in message.metrics]


def timed(fn: Any, reps: int = 3) -> float:
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="pages a tenth the size, 1 repetition")
    args = ap.parse_args()
    scale, reps = (10, 1) if args.smoke else (1, 3)
    page100 = json.dumps({"runs": [run_json(i) for i in range(100 // scale)]})
    page1000 = json.dumps(
        {"runs": [run_json(i) for i in range(1000 // scale)], "next_page_token": "t"}
    )
    history = json.dumps(
        {
            "metrics": [
                {"key": "loss", "value": random.random(), "timestamp": 1764134534000, "step": s}
                for s in range(25_000 // scale)
            ],
            "next_page_token": "t",
        }
    )
    load = os.getloadavg()[0]
    w3b = timed(lambda: parse_runs(page100), reps)
    w3c = timed(lambda: [parse_runs(page1000) for _ in range(5)], reps)
    w4 = timed(lambda: [parse_history(history) for _ in range(4)], reps)
    size = " (--smoke: a tenth of these sizes)" if args.smoke else ""
    print(f"load average {load:.1f}; mlflow client parsing only (no server, no network){size}:")
    print(f"  W3 (b) a page of 100 runs:          {w3b * 1e3:8.1f} ms")
    print(f"  W3 (c) 5,000 runs in 5 pages:       {w3c * 1e3:8.1f} ms")
    print(f"  W4 100,000 points in 4 pages:       {w4 * 1e3:8.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
