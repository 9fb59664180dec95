#!/usr/bin/env python3
"""The mltrail client's background logging, end to end through ``mltrail server`` into SQLite.

A training loop calls ``mltrail.log_metric(key, value, step=...)`` N times (10 keys); the
calls only enqueue, a background thread sends batches over HTTP. Two numbers:

- **calls/s returned**: N / time spent inside the ``log_metric`` calls (what the loop feels);
- **points/s stored**: N / time from the first call until ``mltrail.flush()`` returned, after
  which every point is in the server's SQLite file. The script then checks the stored
  counts (metric summaries and full histories) and fails if a point is missing.

    .venv/bin/python bench/client_logging.py                      # starts its own server
    .venv/bin/python bench/client_logging.py --points 200000 --reps 1   # quicker
    .venv/bin/python bench/client_logging.py --uri http://127.0.0.1:5000  # a running server
    .venv/bin/python bench/client_logging.py --smoke              # 5,000 points, 1 rep

Targets: at least 100,000 calls/s returned and 500,000 points/s stored.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
KEYS = 10


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_server(work: Path, workers: int) -> tuple[subprocess.Popen[bytes], str, float]:
    port = free_port()
    cmd = [
        sys.executable, "-m", "mltrail.cli.main", "server", "--no-auth",
        "--backend-store-uri", f"sqlite:///{work}/mltrail.db",
        "--artifacts-destination", str(work / "artifacts"),
        "--port", str(port), "--workers", str(workers),
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLTRAIL_")}
    t0 = time.perf_counter()
    log = (work / "server.log").open("wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=work)
    url = f"http://127.0.0.1:{port}"
    while time.perf_counter() - t0 < 60:
        if proc.poll() is not None:
            raise SystemExit((work / "server.log").read_text())
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=1) as r:
                if r.status == 200:
                    return proc, url, time.perf_counter() - t0
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("server did not start")


def proc_cpu_s(pid: int | None) -> float | None:
    """User + system CPU seconds of a process and its children that were waited for."""
    if pid is None:
        return None
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def one_rep(mltrail: Any, n: int, server_pid: int | None) -> dict[str, Any]:
    keys = [f"m{k}" for k in range(KEYS)]
    steps = n // KEYS
    run = mltrail.start_run()
    run_id = run.info.run_id
    log_metric = mltrail.log_metric
    srv0 = proc_cpu_s(server_pid)
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    in_calls = 0.0
    # Timed per step (10 calls), so the loop's own cost is not counted as the API's.
    for step in range(steps):
        t = time.perf_counter()
        for key in keys:
            log_metric(key, 0.5, step=step)
        in_calls += time.perf_counter() - t
    t_calls = time.perf_counter() - t0
    mltrail.flush()
    t_stored = time.perf_counter() - t0
    client_cpu = time.process_time() - cpu0
    srv1 = proc_cpu_s(server_pid)
    server_cpu = None if srv0 is None or srv1 is None else srv1 - srv0
    mltrail.end_run()
    client = mltrail.TrackingClient()
    summaries = {s.key: s.count for s in client.backend.get_metric_summaries(run_id)}
    history = sum(len(client.get_metric_history(run_id, k)) for k in keys)
    expected = steps * KEYS
    if set(summaries.values()) != {steps} or history != expected:
        raise SystemExit(f"lost points: summaries {summaries}, history {history}/{expected}")
    return {
        "points": expected,
        "calls_per_s_returned": expected / in_calls,
        "loop_s": t_calls,
        "stored_s": t_stored,
        "points_per_s_stored": expected / t_stored,
        "history_points_checked": history,
        # CPU per point (client: loop and sender thread; server: all its processes) is what
        # to compare across runs when the machine's load differs.
        "client_cpu_us_per_point": client_cpu / expected * 1e6,
        "server_cpu_us_per_point": None if server_cpu is None else server_cpu / expected * 1e6,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--uri", help="a running server (default: start one on a fresh SQLite file)")
    ap.add_argument("--workers", type=int, default=1, help="workers of the started server")
    ap.add_argument("--out-dir", type=Path, default=REPO / "bench" / "results")
    ap.add_argument("--smoke", action="store_true", help="5,000 points, 1 repetition")
    args = ap.parse_args()
    if args.smoke:
        args.points, args.reps = 5_000, 1

    work = Path(tempfile.mkdtemp(prefix="clientlog-"))
    proc = None
    startup = None
    try:
        if args.uri:
            url = args.uri
        else:
            proc, url, startup = start_server(work, args.workers)
        os.environ["MLTRAIL_SPOOL_DIR"] = str(work / "spool")
        import mltrail

        mltrail.set_tracking_uri(url)
        mltrail.set_experiment(f"client-logging-{int(time.time())}")
        load0 = os.getloadavg()[0]
        reps = []
        for i in range(args.reps):
            rep = one_rep(mltrail, args.points, None if proc is None else proc.pid)
            reps.append(rep)
            print(
                f"rep {i}: {rep['calls_per_s_returned']:,.0f} calls/s returned, "
                f"{rep['points_per_s_stored']:,.0f} points/s stored "
                f"({rep['points']:,} points in {rep['stored_s']:.2f} s, all checked); CPU per "
                f"point: client {rep['client_cpu_us_per_point']:.2f} us, server "
                f"{rep['server_cpu_us_per_point'] or 0:.2f} us",
                flush=True,
            )
        load1 = os.getloadavg()[0]
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)

    med = {
        k: statistics.median(r[k] for r in reps)
        for k in (
            "calls_per_s_returned",
            "points_per_s_stored",
            "client_cpu_us_per_point",
            "server_cpu_us_per_point",
        )
        if all(r[k] is not None for r in reps)
    }
    doc = {
        "workload": "client-logging",
        "points": args.points,
        "keys": KEYS,
        "server_workers": None if args.uri else args.workers,
        "server_startup_s": startup,
        "load_average_1min": [round(load0, 2), round(load1, 2)],
        "cpus": os.cpu_count(),
        "reps": reps,
        "headline": med,
    }
    args.out_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    out = args.out_dir / f"client-logging-{stamp}.json"
    out.write_text(json.dumps(doc, indent=1))
    print(
        f"median of {args.reps}: {med['calls_per_s_returned']:,.0f} calls/s returned "
        f"(target >= 100,000), {med['points_per_s_stored']:,.0f} points/s stored "
        f"(target >= 500,000); load average {load0:.1f}-{load1:.1f}; {out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
