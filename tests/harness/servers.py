"""Real processes for the tests that need them: a free port, a clean environment, a server
started and waited for, stopped with the signal a test chooses.

Tests that only talk HTTP to a server use an in-process app instead (``app_server`` in
tests/conftest.py); a real process is for what only a process shows: SIGKILL and restarts
(durability), several processes on one database (scale-out), TLS, the real mlflow client in
its own interpreter, Chromium, the cloud emulators.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any ``MLTRAIL_*`` setting, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLTRAIL_")}
    env.update(extra)
    return env


def wait_until_up(
    url: str,
    process: subprocess.Popen[bytes],
    *,
    log: Callable[[], str],
    timeout: float = START_TIMEOUT_S,
    ready: Callable[[httpx.Response], bool] = lambda r: r.status_code == 200,
    verify: object = True,
) -> None:
    """Poll ``url`` until ``ready`` accepts its answer; raise (with the log) if the process
    exits first or the deadline passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the process exited with {process.returncode}:\n{log()}")
        try:
            if ready(httpx.get(url, timeout=2.0, verify=verify)):  # type: ignore[arg-type]
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    stop(process, sig=signal.SIGKILL)
    raise RuntimeError(f"{url} did not answer in {timeout:.0f}s:\n{log()}")


def spawn(
    command: Sequence[str], *, log_path: Path, cwd: Path | None = None, env: dict[str, str]
) -> subprocess.Popen[bytes]:
    """Start ``command`` with stdout and stderr going to ``log_path``."""
    with log_path.open("wb") as log:
        return subprocess.Popen(
            list(command), cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT
        )


def stop(
    process: subprocess.Popen[bytes], *, sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT_S
) -> int:
    """Send ``sig`` (if the process still runs) and wait; SIGKILL after ``timeout``."""
    if process.poll() is None:
        process.send_signal(sig)
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


def read_log(path: Path, *, tail: int = 6000) -> str:
    return path.read_text(errors="replace")[-tail:] if path.exists() else ""
