#!/usr/bin/env python3
"""W3's searches over raw HTTP: the server's own time, without any client's parsing.

trackbench times ``search_runs`` through a client, whose parsing of the answer (the
mlflow client builds protobuf messages and entities) is part of its figure. This sends
the same ``POST /api/2.0/mlflow/runs/search`` bodies on one kept-alive connection
(``http.client``, nothing else in the way), takes the median and best of ``--reps``, and
reads the CPU the server's process tree spent on them from ``/proc``:

    python bench/search_http.py --url http://127.0.0.1:5000 --experiment-prefix w3 \\
        --server-pid 1234

Each query repeats ``--reps`` times, or at least 3 times within ``--max-seconds``.
(a) no filter, 100 runs; (b) ``metrics.m0 > 0.5 and params.p1 = 'v3'`` ordered by
``metrics.m0 DESC``, 100 runs: trackbench's queries (a) and (b). Standard library only,
so any virtualenv runs it.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

W3_FILTER = "metrics.m0 > 0.5 and params.p1 = 'v3'"
SEARCH = "/api/2.0/mlflow/runs/search"


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (uvicorn's workers), from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, todo = [pid], [pid]
    while todo:
        current = todo.pop()
        children = [p for p, parent in parents.items() if parent == current]
        found.extend(children)
        todo.extend(children)
    return found


def tree_cpu_s(pid: int | None) -> float:
    """CPU seconds (user + system) of the process tree under ``pid`` so far."""
    if pid is None:
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for member in _tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / ticks


class Api:
    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=600)

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        self.conn.request(
            "POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"}
        )
        answer = self.conn.getresponse()
        data = answer.read()
        if answer.status != 200:
            raise SystemExit(f"{path}: HTTP {answer.status}: {data[:300]!r}")
        result: dict[str, Any] = json.loads(data)
        return result


def find_experiment(api: Api, *, name: str | None = None, prefix: str | None = None) -> str:
    """The id of the experiment called ``name``, or of the newest whose name starts with
    ``prefix`` (trackbench names W3's experiment ``w3-<time>-<random>``)."""
    if name is not None:
        query = {"filter": f"name = '{name}'", "max_results": 10}
    else:
        query = {
            "filter": f"name LIKE '{prefix}%'",
            "order_by": ["creation_time DESC"],
            "max_results": 10,
        }
    found = api.post("/api/2.0/mlflow/experiments/search", query)
    experiments = found.get("experiments", [])
    if not experiments:
        raise SystemExit(f"no experiment named {name or prefix + '...'}")
    return str(experiments[0]["experiment_id"])


def time_searches(
    url: str, experiment_id: str, *, reps: int, server_pid: int | None, max_seconds: float
) -> dict[str, Any]:
    """Median and best HTTP time of queries (a) and (b), and server CPU per request.

    Each query repeats ``reps`` times, or fewer (but at least 3) once ``max_seconds`` have
    gone by: MLflow takes about a minute per filtered search of 50,000 runs."""
    api = Api(url)
    bodies = {
        "a": {"experiment_ids": [experiment_id], "max_results": 100},
        "b": {
            "experiment_ids": [experiment_id],
            "filter": W3_FILTER,
            "order_by": ["metrics.m0 DESC"],
            "max_results": 100,
        },
    }
    headline: dict[str, Any] = {}
    for name, body in bodies.items():
        begun = time.perf_counter()
        for _ in range(3):  # warm-up: connection, caches, the statement cache
            api.post(SEARCH, body)
            if time.perf_counter() - begun > max_seconds:
                break
        times: list[float] = []
        cpu0 = tree_cpu_s(server_pid)
        begun = time.perf_counter()
        while len(times) < reps and (len(times) < 3 or time.perf_counter() - begun < max_seconds):
            started = time.perf_counter()
            answer = api.post(SEARCH, body)
            times.append((time.perf_counter() - started) * 1e3)
        cpu = tree_cpu_s(server_pid) - cpu0
        headline[f"{name}_ms"] = statistics.median(times)
        headline[f"{name}_best_ms"] = min(times)
        if server_pid is not None:
            headline[f"{name}_server_cpu_ms"] = cpu / len(times) * 1e3
        headline[f"{name}_runs"] = len(answer.get("runs", []))
        headline[f"{name}_reps"] = len(times)
    return headline


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--url", required=True)
    which = ap.add_mutually_exclusive_group(required=True)
    which.add_argument("--experiment", help="experiment name")
    which.add_argument("--experiment-prefix", help="newest experiment whose name starts so")
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument(
        "--max-seconds", type=float, default=120.0, help="per query; at least 3 repetitions"
    )
    ap.add_argument("--server-pid", type=int)
    ap.add_argument("--label", default="")
    ap.add_argument("--name", default="W3-http", help="workload name in the JSON document")
    ap.add_argument("--out", type=Path, help="write a result document (server_bench's format)")
    args = ap.parse_args()
    api = Api(args.url)
    exp = find_experiment(api, name=args.experiment, prefix=args.experiment_prefix)
    headline = time_searches(
        args.url, exp, reps=args.reps, server_pid=args.server_pid, max_seconds=args.max_seconds
    )
    print(
        f"  {args.name} [{args.label}]: "
        + json.dumps({k: round(v, 2) for k, v in headline.items()})
    )
    if args.out:
        doc = {
            "workload": args.name,
            "label": args.label,
            "loadavg": [round(x, 2) for x in os.getloadavg()],
            "result": {"experiment_id": exp, "reps": args.reps, "headline": headline},
        }
        args.out.write_text(json.dumps(doc, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
