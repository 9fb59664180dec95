"""Real processes for durability tests: servers that can be stopped, killed and restarted on
the same port (the spool names the server by its URL), and logging scripts in subprocesses."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from harness.servers import clean_env, free_port

START_TIMEOUT_S = 30.0
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Server:
    """``mltrail server`` on a fixed port over a fixed store; stop/kill/start at will."""

    store: str
    port: int
    workdir: Path
    args: tuple[str, ...] = ()
    process: subprocess.Popen[bytes] | None = None
    logs: list[Path] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Server:
        log_path = self.workdir / f"server-{self.port}-{len(self.logs)}.log"
        self.logs.append(log_path)
        command = [
            sys.executable,
            "-m",
            "mltrail.cli.main",
            "server",
            "--no-auth",
            "--port",
            str(self.port),
            "--backend-store-uri",
            self.store,
            *self.args,
        ]
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command, cwd=self.workdir, env=clean_env(), stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1.0).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        self.process.kill()
        raise RuntimeError(f"server did not start in {START_TIMEOUT_S}s:\n{self.log()}")

    def log(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in self.logs if p.exists())

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[object]:
    started: list[Server] = []

    def make(
        store: str | None = None, *, port: int | None = None, args: tuple[str, ...] = ()
    ) -> Server:
        server = Server(
            store=store or str(tmp_path / "store"),
            port=port or free_port(),
            workdir=tmp_path,
            args=args,
        )
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


def run_script(
    code: str, *, env: dict[str, str], timeout: float = 120.0, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter; the result has stdout and stderr as text."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
    )


# The end of a logging script that, when ``wait_for_server`` is true, waits on stdin for the
# server to be back, then until the process has sent its spool itself, and says so.
SEND_SPOOL_WHEN_BACK = """
if {wait_for_server}:
    import sys, time
    from pathlib import Path
    from mltrail.client.spool import spool_files
    sys.stdin.readline()  # the server is back: the process sends the spool itself
    deadline = time.time() + 60
    while spool_files(Path({spool_dir!r})) and time.time() < deadline:
        time.sleep(0.2)
    print("spool empty", not spool_files(Path({spool_dir!r})), flush=True)
"""


def read_line(proc: subprocess.Popen[str]) -> str:
    """The next line a spawned script prints; fails with its stderr if it ended instead."""
    assert proc.stdout is not None and proc.stderr is not None
    line = proc.stdout.readline().strip()
    assert line, f"the process ended early: {proc.stderr.read()}"
    return line


def spawn_script(
    code: str, *, env: dict[str, str], cwd: Path | None = None
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
    )


def sync(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mltrail.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def count_points(url: str, run_id: str, key: str) -> int:
    from mltrail.client.rest import RestBackend
    from mltrail.config import Settings

    backend = RestBackend(url, settings=Settings(http_max_retries=3))
    try:
        total = 0
        token: str | None = None
        while True:
            page = backend.get_metric_history(run_id, key=key, max_results=10_000, page_token=token)
            total += len(page)
            token = page.token
            if not token:
                return total
    finally:
        backend.close()
