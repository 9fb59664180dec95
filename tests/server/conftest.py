"""A real ``mltrail server`` in a subprocess, on a free port, over a fresh SQLite folder store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from harness.inprocess import InProcessServer
from harness.servers import free_port
from mltrail.client.rest import RestBackend
from mltrail.config import Settings

START_TIMEOUT_S = 30.0


@dataclass
class LiveServer:
    url: str
    process: subprocess.Popen[bytes]
    tmp_path: Path
    log_path: Path
    prefix: str = ""
    backends: list[RestBackend] = field(default_factory=list)

    def backend(self, **settings: object) -> RestBackend:
        backend = RestBackend(
            self.url,
            settings=Settings(http_max_retries=1, http_timeout=60.0).with_overrides(**settings),
        )
        self.backends.append(backend)
        return backend

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout=timeout)


def start_server(
    tmp_path: Path,
    *,
    args: Sequence[str] = (),
    env: dict[str, str] | None = None,
    store: str | None = None,
    prefix: str = "",
) -> LiveServer:
    port = free_port()
    log_path = tmp_path / f"server-{port}.log"
    command = [
        sys.executable,
        "-m",
        "mltrail.cli.main",
        "server",
        "--no-auth",
        "--port",
        str(port),
        "--backend-store-uri",
        store or str(tmp_path / "store"),
        *(["--static-prefix", prefix] if prefix else []),
        *args,
    ]
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("MLTRAIL_")}
    full_env.update(env or {})
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=tmp_path, env=full_env, stdout=log, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}{prefix}"
    server = LiveServer(
        url=url, process=process, tmp_path=tmp_path, log_path=log_path, prefix=prefix
    )
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{server.log()}")
        try:
            if httpx.get(f"{url}/health", timeout=1.0).text == "OK":
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"server did not answer /health in {START_TIMEOUT_S}s:\n{server.log()}")


def _shutdown(server: LiveServer) -> None:
    for backend in server.backends:
        backend.close()
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    """Start servers with extra CLI args / env: ``server_factory(args=[...], env={...})``."""
    started: list[LiveServer] = []

    def start(**kwargs: object) -> LiveServer:
        server = start_server(tmp_path, **kwargs)  # type: ignore[arg-type]
        started.append(server)
        return server

    yield start
    for server in started:
        _shutdown(server)


@pytest.fixture
def live_server(server_factory: Callable[..., LiveServer]) -> LiveServer:
    """A server with default options over a fresh folder store in ``tmp_path``."""
    return server_factory()


@dataclass
class AppServer:
    """``create_app`` over the same folder store as ``live_server``, answered in-process: for
    tests that only talk HTTP to the server (no signals, no access log, no second process)."""

    server: InProcessServer
    tmp_path: Path
    backends: list[RestBackend] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url

    def backend(self, **settings: object) -> RestBackend:
        backend = RestBackend(
            self.url,
            settings=Settings(http_max_retries=1, http_timeout=60.0).with_overrides(**settings),
        )
        self.backends.append(backend)
        return backend


@pytest.fixture
def app_live_server(
    app_server: Callable[..., InProcessServer], tmp_path: Path
) -> Iterator[AppServer]:
    served = AppServer(
        server=app_server(backend_store_uri=str(tmp_path / "store")), tmp_path=tmp_path
    )
    yield served
    for backend in served.backends:
        backend.close()
