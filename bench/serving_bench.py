"""Scoring servers, mltrail against MLflow, in the same run: ``mltrail models serve`` and
``mlflow models serve --env-manager local`` serving the same scikit-learn models.

Models: a Ridge and a RandomForestRegressor (100 trees) on 20 double features, trained on a
DataFrame and saved once with ``mlflow.sklearn.save_model`` (skops format, MLflow's own
files), which both servers load from the folder. Each server runs alone (one process,
one worker: the defaults of both), on a free port, and is stopped before the next starts.

Workloads, per model and server:
  W1  latency of a 1-row request (dataframe_split), sequential, on one kept-alive connection:
      p50 and p99 over --requests requests after --warmup;
  W2  rows/s for 1,000-row requests from 8 concurrent clients (threads, each with its own
      kept-alive connection, --rounds requests each; bodies serialised before the clock);
  MEM the resident memory of the server's processes (all of them: mlflow's CLI starts a
      uvicorn child) once /ping answers, before any request.

    .venv/bin/python bench/serving_bench.py            # full sizes
    .venv/bin/python bench/serving_bench.py --smoke    # tiny sizes, for the test
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
FEATURES = [f"f{i}" for i in range(20)]
CLIENTS = 8
BATCH_ROWS = 1000

SAVE_MODELS = """
import sys
import numpy as np, pandas as pd
import mlflow.sklearn
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import Ridge
rng = np.random.default_rng(0)
cols = [f"f{i}" for i in range(20)]
x = pd.DataFrame(rng.normal(size=(5000, 20)), columns=cols)
y = x.sum(axis=1) + rng.normal(scale=0.1, size=5000)
out = sys.argv[1]
mlflow.sklearn.save_model(Ridge().fit(x, y), f"{out}/ridge", input_example=x.head(5))
forest = RandomForestRegressor(n_estimators=100, max_depth=10, random_state=0).fit(x, y)
mlflow.sklearn.save_model(forest, f"{out}/forest", input_example=x.head(5),
                          skops_trusted_types=["sklearn.tree._tree.Tree"])
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tree_rss(pid: int) -> int:
    """Resident bytes of ``pid`` and all its descendants."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry))
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        todo.extend(children.get(current, []))
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


class Server:
    def __init__(self, command: list[str], env: dict[str, str], log: Path) -> None:
        self.port = int(command[command.index("--port") + 1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = log.open("wb")
        self.proc = subprocess.Popen(
            command, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def wait(self, timeout: float = 300) -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.proc.returncode}")
            try:
                if httpx.get(f"{self.url}/ping", timeout=5).status_code == 200:
                    return time.monotonic() - started
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError("server did not start")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=30)
        self._log.close()


def body(frame: pd.DataFrame) -> bytes:
    return json.dumps({"dataframe_split": frame.to_dict(orient="split", index=False)}).encode()


def latency(url: str, one: bytes, *, warmup: int, requests: int) -> dict[str, float]:
    headers = {"Content-Type": "application/json"}
    times = []
    with httpx.Client(timeout=60) as client:
        for i in range(warmup + requests):
            started = time.perf_counter()
            answer = client.post(f"{url}/invocations", content=one, headers=headers)
            elapsed = time.perf_counter() - started
            answer.raise_for_status()
            if i >= warmup:
                times.append(elapsed)
    times.sort()
    return {
        "p50_ms": statistics.median(times) * 1000,
        "p99_ms": times[min(len(times) - 1, int(len(times) * 0.99))] * 1000,
    }


def throughput(url: str, batch: bytes, *, rounds: int) -> float:
    headers = {"Content-Type": "application/json"}
    failures: list[str] = []
    barrier = threading.Barrier(CLIENTS + 1)

    def client_loop() -> None:
        with httpx.Client(timeout=300) as client:
            client.post(f"{url}/invocations", content=batch, headers=headers)  # warm-up
            barrier.wait()
            for _ in range(rounds):
                answer = client.post(f"{url}/invocations", content=batch, headers=headers)
                if answer.status_code != 200:
                    failures.append(answer.text[:200])

    threads = [threading.Thread(target=client_loop) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{len(failures)} failed requests: {failures[0]}")
    return CLIENTS * rounds * BATCH_ROWS / elapsed


def commands(
    tool: str, model: Path, port: int, mlflow_python: Path
) -> tuple[list[str], dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLTRAIL_", "MLFLOW_"))}
    if tool == "mlflow":
        env["PATH"] = f"{mlflow_python.parent}{os.pathsep}{env.get('PATH', '')}"
        env["GIT_PYTHON_REFRESH"] = "quiet"
        return [
            str(mlflow_python.parent / "mlflow"), "models", "serve", "-m", str(model),
            "--env-manager", "local", "--host", "127.0.0.1", "--port", str(port),
        ], env  # fmt: skip
    return [
        sys.executable, "-m", "mltrail", "models", "serve", "-m", str(model),
        "--host", "127.0.0.1", "--port", str(port),
    ], env  # fmt: skip


def measure(tool: str, model: Path, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    command, env = commands(tool, model, free_port(), Path(args.mlflow_python))
    server = Server(command, env, work / f"{tool}-{model.name}.log")
    try:
        start_seconds = server.wait()
        time.sleep(2)
        idle = tree_rss(server.proc.pid)
        rng = np.random.default_rng(1)
        one = body(pd.DataFrame(rng.normal(size=(1, 20)), columns=FEATURES))
        batch = body(pd.DataFrame(rng.normal(size=(BATCH_ROWS, 20)), columns=FEATURES))
        result: dict[str, Any] = {"start_s": start_seconds, "idle_rss_mb": idle / 2**20}
        result.update(latency(server.url, one, warmup=args.warmup, requests=args.requests))
        result["rows_per_s"] = throughput(server.url, batch, rounds=args.rounds)
        return result
    finally:
        server.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--requests", type=int, default=1000, help="W1 requests measured")
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=25, help="W2 requests per client")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes (the test runs this)")
    ap.add_argument("--mlflow-python", default=str(REPO / ".venv-mlflow" / "bin" / "python"))
    ap.add_argument("--out-dir", default=str(REPO / "bench" / "results"))
    args = ap.parse_args()
    if args.smoke:
        args.requests, args.warmup, args.rounds = 20, 3, 1
    with tempfile.TemporaryDirectory(prefix="serving-bench-") as tmp:
        work = Path(tmp)
        script = work / "save_models.py"
        script.write_text(textwrap.dedent(SAVE_MODELS))
        subprocess.run([args.mlflow_python, str(script), str(work)], check=True, timeout=600,
                       env={**os.environ, "GIT_PYTHON_REFRESH": "quiet"})  # fmt: skip
        results: dict[str, dict[str, Any]] = {}
        for name in ("ridge", "forest"):
            for tool in ("mlflow", "mltrail"):
                results[f"{name}/{tool}"] = measure(tool, work / name, args, work)
                print(
                    f"{name:7s} {tool:8s} "
                    + "  ".join(f"{k}={v:.2f}" for k, v in results[f"{name}/{tool}"].items()),
                    flush=True,
                )
    print()
    print(
        f"{'model':8s} {'1-row p50':>22s} {'1-row p99':>22s} {'rows/s (8 clients)':>26s} {'idle RSS MB':>20s}"
    )
    summary: dict[str, dict[str, float]] = {}
    for name in ("ridge", "forest"):
        m, t = results[f"{name}/mlflow"], results[f"{name}/mltrail"]
        ratios = {
            "p50": m["p50_ms"] / t["p50_ms"],
            "p99": m["p99_ms"] / t["p99_ms"],
            "rows_per_s": t["rows_per_s"] / m["rows_per_s"],
            "idle_rss": m["idle_rss_mb"] / t["idle_rss_mb"],
        }
        summary[name] = ratios
        print(
            f"{name:8s} {t['p50_ms']:6.2f} vs {m['p50_ms']:6.2f} ms {ratios['p50']:4.1f}x"
            f" {t['p99_ms']:6.2f} vs {m['p99_ms']:6.2f} ms {ratios['p99']:4.1f}x"
            f" {t['rows_per_s']:8.0f} vs {m['rows_per_s']:8.0f} {ratios['rows_per_s']:4.1f}x"
            f" {t['idle_rss_mb']:5.0f} vs {m['idle_rss_mb']:5.0f} {ratios['idle_rss']:4.1f}x"
        )
    print("(mltrail vs MLflow; ratios: how many times faster / smaller mltrail is)")
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = out / f"serving-{stamp}{'-smoke' if args.smoke else ''}.json"
    path.write_text(json.dumps({"args": vars(args), "results": results, "ratios": summary,
                                "loadavg": os.getloadavg()}, indent=2))  # fmt: skip
    print(f"written {path}")


if __name__ == "__main__":
    main()
