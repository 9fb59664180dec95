"""A real mltrail server (uvicorn subprocess) driven by the real ``mlflow`` client.

The mlflow client lives in its own virtualenv (``make install-mlflow``); its python is
``$MLTRAIL_TEST_MLFLOW_PYTHON``, else ``.venv-mlflow/bin/python`` at the repository root.
Each test writes a small script, runs it with that python and ``MLFLOW_TRACKING_URI``
pointing at the server, and asserts on the JSON the script prints last.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from harness.servers import free_port as _free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPTS_DIR = Path(__file__).resolve().parent / "scripts"
DEFAULT_MLFLOW_PYTHON = REPO_ROOT / ".venv-mlflow" / "bin" / "python"


@dataclass
class Server:
    url: str
    db_path: Path
    artifacts_dir: Path
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


def _wait_until_up(url: str, proc: subprocess.Popen[bytes], server: Server) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"mltrail server exited with {proc.returncode}:\n{server.log()}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"mltrail server did not come up at {url}:\n{server.log()}")


def start_server(
    tmp_path: Path, *, serve_artifacts: bool = True, default_artifact_root: str | None = None
) -> Iterator[Server]:
    """A server over a fresh SQLite file; new experiments' root is the proxy when serving
    artifacts (unless ``default_artifact_root`` is given, as with MLflow), else a folder."""
    port = _free_port()
    db_path = tmp_path / "mltrail.db"
    artifacts_dir = tmp_path / "artifacts"
    log_path = tmp_path / "server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLTRAIL_")}
    env.update(
        MLTRAIL_BACKEND_STORE_URI=f"sqlite:///{db_path}",
        MLTRAIL_ARTIFACTS_DESTINATION=str(artifacts_dir),
        MLTRAIL_SERVE_ARTIFACTS="true" if serve_artifacts else "false",
        MLTRAIL_NO_AUTH="true",
    )
    if default_artifact_root is None and not serve_artifacts:
        default_artifact_root = str(tmp_path / "direct")
    if default_artifact_root is not None:
        env["MLTRAIL_DEFAULT_ARTIFACT_ROOT"] = default_artifact_root
    command = [
        sys.executable, "-m", "uvicorn", "--factory",
        "mltrail.server.app:create_app_from_environment",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
    ]  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    server = Server(url=url, db_path=db_path, artifacts_dir=artifacts_dir, log_path=log_path)
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path
        )
    try:
        _wait_until_up(url, proc, server)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    yield from start_server(tmp_path)


@pytest.fixture
def server_without_proxy(tmp_path: Path) -> Iterator[Server]:
    """A server started with serve-artifacts off (clients write to the artifact root directly)."""
    yield from start_server(tmp_path, serve_artifacts=False)


@pytest.fixture(scope="session")
def mlflow_python() -> Path:
    configured = os.environ.get("MLTRAIL_TEST_MLFLOW_PYTHON")
    path = Path(configured) if configured else DEFAULT_MLFLOW_PYTHON
    if not path.exists():
        pytest.fail(
            f"The mlflow client python {path} does not exist: run `make install-mlflow` "
            "(or set MLTRAIL_TEST_MLFLOW_PYTHON to a python with mlflow==3.17.2)."
        )
    return path


@dataclass
class MlflowRunner:
    python: Path
    server: Server
    workdir: Path

    def __call__(self, script: str, *, timeout: float = 180) -> Any:
        """Run ``script`` with the mlflow client; return the JSON it printed on its last line."""
        source = "from compat_helpers import *\n" + textwrap.dedent(script)
        path = self.workdir / f"script_{time.monotonic_ns()}.py"
        path.write_text(source)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "MLTRAIL_"))}
        env.update(
            MLFLOW_TRACKING_URI=self.server.url,
            PYTHONPATH=str(SCRIPTS_DIR),
            # Deterministic errors must surface at once, not after minutes of retries.
            MLFLOW_HTTP_REQUEST_MAX_RETRIES="0",
            MLFLOW_HTTP_REQUEST_TIMEOUT="60",
            GIT_PYTHON_REFRESH="quiet",
        )
        done = subprocess.run(
            [str(self.python), str(path)],
            env=env,
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if done.returncode != 0:
            pytest.fail(
                f"mlflow script failed ({done.returncode}):\n{done.stderr[-6000:]}\n"
                f"--- server log ---\n{self.server.log()}"
            )
        lines = [line for line in done.stdout.splitlines() if line.strip()]
        if not lines:
            pytest.fail(f"mlflow script printed nothing:\n{done.stderr[-3000:]}")
        return json.loads(lines[-1])


@pytest.fixture
def run_mlflow(mlflow_python: Path, server: Server, tmp_path: Path) -> MlflowRunner:
    workdir = tmp_path / "client"
    workdir.mkdir()
    return MlflowRunner(python=mlflow_python, server=server, workdir=workdir)
