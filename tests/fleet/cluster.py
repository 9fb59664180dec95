"""A fleet on this machine: Debian's nginx, run unprivileged with deploy/nginx/mltrail.conf
included verbatim, in front of `mltrail server` replicas on one database.

Used by the fleet tests (tests/fleet) and by bench/fleet_bench.py. Replicas listen on fixed
ports so that a stopped or killed one can be started again where nginx expects it; each runs
in a session of its own, so that "kill the replica" can mean its whole process group (the
supervisor and its workers, as when a machine dies).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
SITE_CONF = ROOT / "deploy" / "nginx" / "mltrail.conf"
START_TIMEOUT_S = 90.0


def nginx_binary() -> str:
    found = shutil.which("nginx", path="/usr/sbin:/usr/bin:/usr/local/sbin:/usr/local/bin")
    if found is None:
        raise RuntimeError("nginx is not installed: run `make install-nginx` (Debian's nginx)")
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLTRAIL_", "MLFLOW_", "AWS_"))}
    env.update(extra or {})
    return env


def replica_args(
    *, port: int, backend_store_uri: str, artifacts_destination: str, workers: int = 1
) -> list[str]:
    """The `mltrail server` arguments of one replica (docs/deploy.md and deploy/compose.yaml
    use the same ones; tests/fleet/test_deploy_files.py checks that they do)."""
    return [
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--backend-store-uri",
        backend_store_uri,
        "--artifacts-destination",
        artifacts_destination,
        "--forwarded-allow-ips",
        "127.0.0.1",
        "--workers",
        str(workers),
    ]


@dataclass
class Replica:
    """One `mltrail server` process (tree) on a fixed port."""

    name: str
    port: int
    args: list[str]
    workdir: Path
    env: dict[str, str]
    # PYTHONPATH of another version's source (the rolling-upgrade test runs the previous one).
    source: Path | None = None
    process: subprocess.Popen[bytes] | None = None
    logs: list[Path] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def launch(self) -> subprocess.Popen[bytes]:
        log_path = self.workdir / f"{self.name}-{len(self.logs)}.log"
        self.logs.append(log_path)
        env = dict(self.env)
        if self.source is not None:
            env["PYTHONPATH"] = str(self.source)
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "mltrail.cli.main", *self.args],
                cwd=self.workdir,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self.process

    def start(self) -> Replica:
        self.launch()
        return self.wait_up()

    def wait_up(self) -> Replica:
        """Wait until the launched process answers /health."""
        process = self.process
        assert process is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {process.returncode}:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2.0).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"{self.name} did not start in {START_TIMEOUT_S}s:\n{self.log()}")

    def log(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in self.logs if p.exists())

    def terminate(self, *, timeout: float = 60.0) -> int:
        """SIGTERM (graceful shutdown); the exit status."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        """SIGKILL to the whole process group, as when the machine dies."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def pids(self) -> list[int]:
        """The replica's processes: the server and its workers."""
        if self.process is None or self.process.poll() is not None:
            return []
        pid = self.process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children")
        found = [int(c) for c in children.read_text().split()] if children.exists() else []
        return [pid, *found]


@dataclass
class Nginx:
    """nginx in the foreground, unprivileged, from a folder of its own."""

    workdir: Path
    upstreams: Sequence[str]
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.port = self.port or free_port()
        self.workdir.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def write_config(self) -> Path:
        d = self.workdir
        for sub in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (d / sub).mkdir(exist_ok=True)
        conf = d / "nginx.conf"
        conf.write_text(
            f"""daemon off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    log_format fleet '$status $upstream_addr $upstream_status $request_method $uri';
    access_log {d}/access.log fleet;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    include {SITE_CONF};
}}
"""
        )
        # The two files the site configuration includes (see its header).
        (d / "mltrail-replicas.conf").write_text(
            "".join(f"server {u} max_fails=1 fail_timeout=2s;\n" for u in self.upstreams)
        )
        (d / "mltrail-listen.conf").write_text(f"listen 127.0.0.1:{self.port};\n")
        return conf

    def start(self) -> Nginx:
        conf = self.write_config()
        with (self.workdir / "stderr.log").open("wb") as err:
            self.process = subprocess.Popen(
                [nginx_binary(), "-p", str(self.workdir), "-c", str(conf)],
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited:\n{self.errors()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"nginx did not listen on {self.port}:\n{self.errors()}")

    def errors(self) -> str:
        text = ""
        for name in ("stderr.log", "error.log"):
            path = self.workdir / name
            if path.exists():
                text += path.read_text(errors="replace")
        return text

    def access_log(self) -> list[str]:
        path = self.workdir / "access.log"
        return path.read_text(errors="replace").splitlines() if path.exists() else []

    def pids(self) -> list[int]:
        if self.process is None or self.process.poll() is not None:
            return []
        pid = self.process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children")
        return [pid, *(int(c) for c in children.read_text().split())]

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGQUIT)  # graceful: finish what is in flight
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def rss_kib(pids: Sequence[int]) -> int:
    """Resident memory of the processes together (0 for those that are gone)."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def cpu_seconds(pids: Sequence[int]) -> float:
    """User+system CPU time of the processes (and their waited-for children)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        # utime, stime, cutime, cstime are fields 14-17 of stat (11-14 after the name).
        total += sum(int(v) for v in fields[11:15]) / ticks
    return total
