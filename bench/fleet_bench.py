"""A fleet behind nginx on PostgreSQL: mltrail with 1, 2 and 3 replicas against MLflow's
server with ``--workers 4``, measured in one run on the same machine.

Every configuration gets a new PostgreSQL database (dropped afterwards) and Debian's nginx
in front with ``deploy/nginx/mltrail.conf`` included verbatim (the fleet tests' launcher,
``tests/fleet/cluster.py``). Artifacts go to a local folder: nothing here uploads files.
``--clients`` processes of the unmodified mlflow client (``bench/fleet_client.py``, each
with a run of its own) then log for ``--seconds``:

- **calls**: ``log_metric`` one point per call, as a training loop does: calls/s;
- **batch**: ``log_batch`` with 1,000 points per call: points/s.

Afterwards every client reads its run's history back: a point missing or stored twice is
counted (``lost``, ``doubled``). CPU seconds during each timed phase are split between the
servers, nginx, PostgreSQL and the rest of the machine (the clients), which says where the
bound is. The target: mltrail carries at least 5x MLflow's calls/s, with 0 lost.

    .venv/bin/python bench/fleet_bench.py                   # ~6 min on 2 cores
    .venv/bin/python bench/fleet_bench.py --smoke           # 2 clients, 2 s per phase

Results: ``bench/results/fleet-<UTC stamp>.json`` and a table on stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from fleet.cluster import (  # noqa: E402 - the launcher the fleet tests use
    Nginx,
    Replica,
    clean_env,
    cpu_seconds,
    free_port,
    replica_args,
)

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
CLIENT = REPO / "bench" / "fleet_client.py"


# -- processes ---------------------------------------------------------------------------
def tree(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    out = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*"):
        children = task / "children"
        with contextlib.suppress(FileNotFoundError):
            for child in children.read_text().split():
                out.extend(tree(int(child)))
    return out


def postgres_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                if (entry / "comm").read_text().strip() == "postgres":
                    pids.append(int(entry.name))
    return pids


def machine_busy_s() -> float:
    """CPU seconds the whole machine spent busy (all cores), from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def database(name: str) -> Iterator[str]:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def wait_http(url: str, *, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer in {timeout:.0f}s")


# -- servers -----------------------------------------------------------------------------
class Servers:
    """The server processes of one configuration (replicas or MLflow) behind nginx."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.processes: list[subprocess.Popen[bytes]] = []
        self.nginx: Nginx | None = None

    def pids(self) -> list[int]:
        return [p for proc in self.processes if proc.poll() is None for p in tree(proc.pid)]

    def front(self, ports: Sequence[int]) -> str:
        self.nginx = Nginx(self.workdir / "nginx", [f"127.0.0.1:{p}" for p in ports]).start()
        return self.nginx.url

    def stop(self) -> None:
        if self.nginx is not None:
            self.nginx.stop()
        for proc in self.processes:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=40)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def start_mltrail(servers: Servers, db: str, replicas: int) -> str:
    uri = f"postgresql+psycopg://postgres@127.0.0.1:5432/{db}"
    env = clean_env({"MLTRAIL_FORWARDED_ALLOW_IPS": "127.0.0.1"})
    python = sys.executable
    done = subprocess.run(
        [python, "-m", "mltrail.cli.main", "db", "upgrade", uri],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    ports = []
    for n in range(replicas):
        port = free_port()
        args = replica_args(
            port=port,
            backend_store_uri=uri,
            artifacts_destination=str(servers.workdir / "artifacts"),
        )
        replica = Replica(
            name=f"replica{n}",
            port=port,
            args=[*args, "--no-auth"],
            workdir=servers.workdir,
            env=env,
        )
        servers.processes.append(replica.launch())
        ports.append(port)
    for port in ports:
        wait_http(f"http://127.0.0.1:{port}/health")
    return servers.front(ports)


def start_mlflow(servers: Servers, db: str, mlflow_python: str, workers: int) -> str:
    port = free_port()
    log = (servers.workdir / "mlflow.log").open("wb")
    servers.processes.append(
        subprocess.Popen(
            [
                str(Path(mlflow_python).parent / "mlflow"),
                "server",
                "--backend-store-uri",
                f"postgresql+psycopg://postgres@127.0.0.1:5432/{db}",
                "--default-artifact-root",
                str(servers.workdir / "mlartifacts"),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(workers),
            ],
            cwd=servers.workdir,
            env=clean_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    )
    wait_http(f"http://127.0.0.1:{port}/health", timeout=300)
    return servers.front([port])


# -- one phase ---------------------------------------------------------------------------
def experiment(url: str, name: str) -> str:
    answer = httpx.post(f"{url}/api/2.0/mlflow/experiments/create", json={"name": name}, timeout=60)
    answer.raise_for_status()
    return str(answer.json()["experiment_id"])


def phase(url: str, servers: Servers, *, mode: str, args: argparse.Namespace) -> dict[str, Any]:
    exp = experiment(url, f"fleet-{mode}-{time.time_ns()}")
    logs = [servers.workdir / f"client-{mode}-{n}.log" for n in range(args.clients)]
    clients = []
    for log in logs:
        with log.open("w") as err:
            clients.append(
                subprocess.Popen(
                    [
                        args.mlflow_python,
                        str(CLIENT),
                        "--url",
                        url,
                        "--experiment-id",
                        exp,
                        "--mode",
                        mode,
                        "--seconds",
                        str(args.seconds),
                    ],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=err,
                    text=True,
                    env=clean_env(),
                )
            )

    def expect(proc: subprocess.Popen[str], log: Path, word: str) -> str:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        if word and line != word:
            raise RuntimeError(f"client said {line!r}, not {word!r}:\n{log.read_text()[-3000:]}")
        return line

    try:
        for proc, log in zip(clients, logs, strict=True):
            expect(proc, log, "ready")
        server_pids, pg_pids = servers.pids(), postgres_pids()
        nginx_pids = servers.nginx.pids() if servers.nginx else []
        before = (cpu_seconds(server_pids), cpu_seconds(nginx_pids), cpu_seconds(pg_pids))
        busy0, t0 = machine_busy_s(), time.perf_counter()
        for proc in clients:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.close()
        for proc, log in zip(clients, logs, strict=True):
            expect(proc, log, "done")
        wall = time.perf_counter() - t0
        busy = machine_busy_s() - busy0
        server_cpu = cpu_seconds(servers.pids()) - before[0]
        nginx_cpu = cpu_seconds(nginx_pids) - before[1]
        pg_cpu = cpu_seconds(postgres_pids()) - before[2]
        results = []
        for proc, log in zip(clients, logs, strict=True):
            line = expect(proc, log, "")
            if proc.wait(timeout=600) != 0 or not line:
                raise RuntimeError(f"client failed:\n{log.read_text()[-3000:]}")
            results.append(json.loads(line))
    finally:
        for proc in clients:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    calls = sum(r["calls"] for r in results)
    points = sum(r["points"] for r in results)
    return {
        "calls_per_s": calls / wall,
        "points_per_s": points / wall,
        "calls": calls,
        "points": points,
        "lost": sum(r["missing"] for r in results),
        "doubled": sum(r["doubled"] for r in results),
        "wall_s": wall,
        "cpu_s": {
            "machine": busy,
            "servers": server_cpu,
            "nginx": nginx_cpu,
            "postgres": pg_cpu,
            "clients_and_rest": busy - server_cpu - nginx_cpu - pg_cpu,
            "capacity": wall * (os.cpu_count() or 1),
        },
    }


def measure(label: str, args: argparse.Namespace, start: Any) -> dict[str, Any]:
    stamp = datetime.now(UTC).strftime("%H%M%S")
    with tempfile.TemporaryDirectory(prefix=f"fleetbench-{label}-") as tmp:
        servers = Servers(Path(tmp))
        with database(f"fleetbench_{label.replace('-', '_')}_{stamp}") as db:
            try:
                url = start(servers, db)
                out = {mode: phase(url, servers, mode=mode, args=args) for mode in args.modes}
            finally:
                servers.stop()
    for mode, result in out.items():
        cpu = result["cpu_s"]
        print(
            f"  {label:10} {mode:5} {result['calls_per_s']:8.1f} calls/s "
            f"{result['points_per_s']:10.0f} points/s  lost {result['lost']} doubled "
            f"{result['doubled']}  cpu s: servers {cpu['servers']:.1f} postgres "
            f"{cpu['postgres']:.1f} nginx {cpu['nginx']:.1f} clients+rest "
            f"{cpu['clients_and_rest']:.1f} of {cpu['capacity']:.1f}",
            flush=True,
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--replicas", default="1,2,3")
    ap.add_argument("--mlflow-workers", type=int, default=4)
    ap.add_argument("--mlflow-python", default=str(REPO / ".venv-mlflow" / "bin" / "python"))
    ap.add_argument("--modes", default="calls,batch")
    ap.add_argument("--out-dir", default=str(REPO / "bench" / "results"))
    ap.add_argument("--smoke", action="store_true", help="2 clients, 2 s per phase, 1 replica")
    args = ap.parse_args()
    if args.smoke:
        args.clients, args.seconds, args.replicas = 2, 2.0, "1"
    args.modes = [m for m in args.modes.split(",") if m]
    replicas = [int(n) for n in args.replicas.split(",") if n]

    print(f"fleet bench: {args.clients} clients, {args.seconds:.0f} s per phase", flush=True)
    results: dict[str, dict[str, Any]] = {}
    label = f"mlflow-w{args.mlflow_workers}"
    results[label] = measure(
        label,
        args,
        lambda servers, db: start_mlflow(servers, db, args.mlflow_python, args.mlflow_workers),
    )
    for n in replicas:
        results[f"mltrail-x{n}"] = measure(
            f"mltrail-x{n}", args, lambda servers, db, n=n: start_mltrail(servers, db, n)
        )

    anchor = results[label]
    print()
    print("| configuration | mode | calls/s | points/s | vs MLflow | lost | doubled |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for name, modes in results.items():
        for mode, r in modes.items():
            key = "calls_per_s" if mode == "calls" else "points_per_s"
            ratio = r[key] / anchor[mode][key] if anchor[mode][key] else float("nan")
            print(
                f"| {name} | {mode} | {r['calls_per_s']:,.1f} | {r['points_per_s']:,.0f} | "
                f"{ratio:.2f}x | {r['lost']} | {r['doubled']} |"
            )
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"fleet-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_text(
        json.dumps(
            {"args": vars(args), "load_average": os.getloadavg(), "results": results}, indent=2
        )
    )
    print(f"\nresults: {path}")
    bad = sum(r["lost"] + r["doubled"] for modes in results.values() for r in modes.values())
    if bad:
        sys.exit(f"{bad} points lost or doubled")


if __name__ == "__main__":
    main()
