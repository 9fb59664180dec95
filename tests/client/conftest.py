"""A fresh folder store per test, with the fluent state reset around it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import mltrail
from harness.inprocess import InProcessServer
from harness.servers import free_port as _free_port
from mltrail.client.fluent.state import reset_state
from mltrail.client.local import clear_cache


@pytest.fixture
def store_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty folder store under tmp_path, set as the tracking URI; cwd is tmp_path."""
    for name in (
        "MLTRAIL_TRACKING_URI",
        "MLTRAIL_SYNCHRONOUS",
        "MLTRAIL_EXPERIMENT_NAME",
        "MLTRAIL_EXPERIMENT_ID",
        "MLTRAIL_BATCH_MAX_POINTS",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    reset_state()
    folder = tmp_path / "store"
    mltrail.set_tracking_uri(str(folder))
    yield folder
    while mltrail.active_run() is not None:
        mltrail.end_run()
    reset_state()
    clear_cache()


@pytest.fixture
def client(store_dir: Path) -> mltrail.TrackingClient:
    return mltrail.TrackingClient(str(store_dir))


@pytest.fixture
def server_url(tmp_path: Path) -> Iterator[str]:
    """A real mltrail server (uvicorn subprocess, SQLite, proxied artifacts, no auth)."""
    import os
    import subprocess
    import sys
    import time
    import urllib.request

    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLTRAIL_")}
    env.update(
        MLTRAIL_BACKEND_STORE_URI=f"sqlite:///{tmp_path / 'server.db'}",
        MLTRAIL_ARTIFACTS_DESTINATION=str(tmp_path / "server-artifacts"),
        MLTRAIL_SERVE_ARTIFACTS="true",
        MLTRAIL_NO_AUTH="true",
    )
    log = open(tmp_path / "server.log", "wb")  # noqa: SIM115 - closed in the finally below
    command = [
        sys.executable, "-m", "uvicorn", "--factory",
        "mltrail.server.app:create_app_from_environment",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
    ]  # fmt: skip
    proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"server exited: {(tmp_path / 'server.log').read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("server did not come up")
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture
def app_url(app_server: Callable[..., InProcessServer], tmp_path: Path) -> str:
    """The server of ``server_url`` (SQLite, proxied artifacts, no auth), answered in-process
    for every mltrail client in this process (not for subprocesses: use server_url there)."""
    server = app_server(
        backend_store_uri=f"sqlite:///{tmp_path / 'server.db'}",
        artifacts_destination=str(tmp_path / "server-artifacts"),
        serve_artifacts=True,
    )
    return server.url


@pytest.fixture
def remote(app_url: str, store_dir: Path) -> str:
    """The fluent API pointed at a server (the folder store of store_dir is unused)."""
    mltrail.set_tracking_uri(app_url)
    return app_url
