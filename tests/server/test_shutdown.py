"""Graceful shutdown and the multi-worker supervisor, with real server processes.

On SIGTERM a server stops accepting connections at once, finishes the request in flight,
and exits with status 0; forked workers are replaced when they die and die with their
supervisor; a worker that cannot build its app stops the server.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from .conftest import LiveServer

UPLOAD = "/api/2.0/mlflow-artifacts/artifacts/0/slow/artifacts/data.bin"
CHUNK = b"x" * 65536
CHUNKS = 40


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in path.read_text().split()] if path.exists() else []


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(") ", 1)[1][0] != "Z"


def _wait_for(condition: Callable[[], bool], *, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def _refuses_connections(url: str) -> bool:
    try:
        httpx.get(f"{url}/health", timeout=2.0)
    except httpx.ConnectError:
        return True
    except httpx.TransportError:
        return False
    return False


@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_finishes_the_request_in_flight_and_refuses_new_ones(
    server_factory: Callable[..., LiveServer], tmp_path: Path, workers: int
) -> None:
    server = server_factory(args=["--workers", str(workers)])
    started = threading.Event()
    stopped = threading.Event()
    answer: list[httpx.Response] = []

    def body() -> Iterator[bytes]:
        for i in range(CHUNKS):
            if i == 2:
                started.set()
            if i == 6:
                # Keep sending until the server has stopped listening.
                stopped.wait(30)
            yield CHUNK
            time.sleep(0.02)

    def upload() -> None:
        answer.append(httpx.put(f"{server.url}{UPLOAD}", content=body(), timeout=60))

    sender = threading.Thread(target=upload)
    sender.start()
    assert started.wait(30)
    server.process.send_signal(signal.SIGTERM)
    # New connections are refused promptly (a load balancer moves on to another replica)...
    assert _wait_for(lambda: _refuses_connections(server.url))
    stopped.set()
    sender.join(60)
    # ...while the upload that was under way completes.
    assert answer and answer[0].status_code == 200, answer
    stored = tmp_path / "store" / "artifacts" / "0" / "slow" / "artifacts" / "data.bin"
    assert stored.stat().st_size == CHUNKS * len(CHUNK)
    assert server.process.wait(timeout=60) == 0
    assert "Traceback" not in server.log()


def test_a_dead_worker_is_replaced(server_factory: Callable[..., LiveServer]) -> None:
    server = server_factory(args=["--workers", "2"])
    first = _children(server.process.pid)
    assert len(first) == 2
    os.kill(first[0], signal.SIGKILL)
    assert _wait_for(
        lambda: (
            len(_children(server.process.pid)) == 2
            and first[0] not in _children(server.process.pid)
        )
    )
    for _ in range(10):
        assert httpx.get(f"{server.url}/ready", timeout=10).status_code == 200
    assert "ended unexpectedly" in server.log()


def test_killed_supervisor_takes_its_workers_along(
    server_factory: Callable[..., LiveServer],
) -> None:
    server = server_factory(args=["--workers", "2"])
    workers = _children(server.process.pid)
    assert len(workers) == 2
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(timeout=30)
    assert _wait_for(lambda: not any(_alive(pid) for pid in workers))
    # Nothing holds the port: a replacement can listen on it at once.
    assert _wait_for(lambda: _refuses_connections(server.url))


SUPERVISE = """
import sys
from mltrail.config import Settings
from mltrail.server.logs import configure_logging
from mltrail.server.runner import bind_socket
from mltrail.server.supervisor import Supervisor

configure_logging()
# A database that cannot be reached when the workers build their apps.
settings = Settings(
    backend_store_uri="postgresql://postgres@127.0.0.1:1/nowhere", workers=2, no_auth=True
)
sock = bind_socket("127.0.0.1", 0)
ok = Supervisor(settings, sock=sock, options={"log_level": "warning"}).run()
print("served" if ok else "a worker could not start", flush=True)
"""


def test_a_worker_that_cannot_start_stops_the_supervisor(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(SUPERVISE)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if not k.startswith("MLTRAIL_")},
    )
    assert done.stdout.strip() == "a worker could not start", done.stderr
    assert "could not start" in done.stderr
