"""Real MLflow data for the import tests, made by the real mlflow client in its own venv.

Building a store takes the mlflow client a quarter of a minute or more, so each kind of
source is built once per session (``scripts/build_mlflow_data.py``): MLflow's SQLite
store, its file store, and a live ``mlflow server`` (SQLite backend; a PostgreSQL backend
in the tests marked ``postgres``). Tests that change a source work on a copy.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from mltrail.cli.main import cli

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = Path(__file__).resolve().parent / "scripts"
DEFAULT_MLFLOW_PYTHON = REPO_ROOT / ".venv-mlflow" / "bin" / "python"
PG_ADMIN_URI = os.environ.get(
    "MLTRAIL_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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


def mlflow_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "MLTRAIL_"))}
    env.update(GIT_PYTHON_REFRESH="quiet", MLFLOW_HTTP_REQUEST_MAX_RETRIES="0", **extra)
    return env


def run_script(
    python: Path, script: str, *args: str, cwd: Path, env: dict[str, str], timeout: float = 600
) -> Any:
    """Run a script of ``scripts/`` with the mlflow python; the JSON of its last line."""
    done = subprocess.run(
        [str(python), str(SCRIPTS / script), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        pytest.fail(f"{script} failed ({done.returncode}):\n{done.stderr[-6000:]}")
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    return json.loads(lines[-1])


@dataclass
class MlflowData:
    """An MLflow store made by build_mlflow_data.py: ``source`` is what to import from."""

    source: str
    folder: Path
    ids: dict[str, Any]

    @property
    def runs(self) -> dict[str, str]:
        return dict(self.ids["runs"])


def build(python: Path, folder: Path, uri: str, **env: str) -> dict[str, Any]:
    ids: dict[str, Any] = run_script(
        python, "build_mlflow_data.py", uri, cwd=folder, env=mlflow_env(**env)
    )
    return ids


@pytest.fixture(scope="session")
def mlflow_sqlite(tmp_path_factory: pytest.TempPathFactory, mlflow_python: Path) -> MlflowData:
    folder = tmp_path_factory.mktemp("mlflow-sqlite")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    return MlflowData(uri, folder, build(mlflow_python, folder, uri))


@pytest.fixture(scope="session")
def mlflow_files(tmp_path_factory: pytest.TempPathFactory, mlflow_python: Path) -> MlflowData:
    folder = tmp_path_factory.mktemp("mlflow-files")
    root = folder / "mlruns"
    ids = build(mlflow_python, folder, str(root), MLFLOW_ALLOW_FILE_STORE="true")
    return MlflowData(str(root), folder, ids)


def copy_sqlite_store(data: MlflowData, folder: Path) -> MlflowData:
    """A copy of an MLflow SQLite store and its artifacts whose rows point at the copy."""
    shutil.copytree(data.folder, folder, dirs_exist_ok=True)
    db = folder / "mlflow.db"
    old, new = str(data.folder), str(folder)
    with sqlite3.connect(db) as conn:
        for table, column in (
            ("experiments", "artifact_location"),
            ("runs", "artifact_uri"),
            ("logged_models", "artifact_location"),
            ("model_versions", "storage_location"),
            ("model_versions", "source"),
        ):
            conn.execute(f"UPDATE {table} SET {column} = replace({column}, ?, ?)", (old, new))
    return MlflowData(f"sqlite:///{db}", folder, data.ids)


# -- servers ----------------------------------------------------------------------------


def wait_until_up(
    url: str, proc: subprocess.Popen[bytes], log: Path, *, timeout: float = 120
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"server exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"server did not come up at {url}:\n{log.read_text()[-4000:]}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@dataclass
class MlflowServer:
    url: str
    folder: Path
    backend: str
    ids: dict[str, Any]


def start_mlflow_server(
    python: Path,
    folder: Path,
    backend: str,
    *,
    app: str | None = None,
    env: dict[str, str] | None = None,
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    log = folder / "mlflow-server.log"
    command = [
        str(python.parent / "mlflow"), "server", "--backend-store-uri", backend,
        "--artifacts-destination", str(folder / "mlartifacts"),
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
    ]  # fmt: skip
    if app:
        command += ["--app-name", app]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command, cwd=folder, env=mlflow_env(**(env or {})), stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, proc, log, timeout=180)
    except BaseException:
        stop(proc)
        raise
    return proc, url


@pytest.fixture(scope="session")
def mlflow_server(
    tmp_path_factory: pytest.TempPathFactory, mlflow_python: Path
) -> Iterator[MlflowServer]:
    folder = tmp_path_factory.mktemp("mlflow-server")
    backend = f"sqlite:///{folder / 'mlflow.db'}"
    proc, url = start_mlflow_server(mlflow_python, folder, backend)
    try:
        ids = build(mlflow_python, folder, url)
        yield MlflowServer(url, folder, backend, ids)
    finally:
        stop(proc)


@pytest.fixture(scope="session")
def mlflow_pg_server(
    tmp_path_factory: pytest.TempPathFactory, mlflow_python: Path
) -> Iterator[MlflowServer]:
    from sqlalchemy import create_engine, text

    name = f"mlflow_src_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URI, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    folder = tmp_path_factory.mktemp("mlflow-pg-server")
    backend = f"postgresql://postgres@127.0.0.1:5432/{name}"
    proc, url = start_mlflow_server(mlflow_python, folder, backend)
    try:
        ids = build(mlflow_python, folder, url)
        yield MlflowServer(url, folder, backend, ids)
    finally:
        stop(proc)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@dataclass
class MltrailServer:
    url: str
    folder: Path
    log: Path


def start_mltrail_server(
    folder: Path, *, backend: str | None = None, destination: str | None = None
) -> tuple[subprocess.Popen[bytes], MltrailServer]:
    port = free_port()
    log = folder / "mltrail-server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLTRAIL_", "MLFLOW_"))}
    env.update(MLTRAIL_BACKEND_STORE_URI=backend or str(folder / "store"), MLTRAIL_NO_AUTH="true")
    if destination:
        env["MLTRAIL_ARTIFACTS_DESTINATION"] = destination
    command = [
        sys.executable, "-m", "uvicorn", "--factory",
        "mltrail.server.app:create_app_from_environment",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
    ]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(command, cwd=folder, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = MltrailServer(f"http://127.0.0.1:{port}", folder, log)
    try:
        wait_until_up(server.url, proc, log)
    except BaseException:
        stop(proc)
        raise
    return proc, server


@pytest.fixture
def mltrail_server(tmp_path: Path) -> Iterator[MltrailServer]:
    folder = tmp_path / "mltrail-server"
    folder.mkdir()
    proc, server = start_mltrail_server(folder)
    try:
        yield server
    finally:
        stop(proc)


# -- running the CLI and the probe ----------------------------------------------------------


def mltrail(*args: str, env: dict[str, str] | None = None) -> Result:
    """The ``mltrail`` command, in-process."""
    from mltrail.client.local import clear_cache

    clear_cache()
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    return result


def probe(python: Path, tracking_uri: str, out: Path, **env: str) -> dict[str, Any]:
    """What the mlflow client reads from ``tracking_uri`` (see scripts/probe_mlflow.py)."""
    run_script(
        python,
        "probe_mlflow.py",
        str(out),
        cwd=out.parent,
        env=mlflow_env(MLFLOW_TRACKING_URI=tracking_uri, **env),
    )
    answer: dict[str, Any] = json.loads(out.read_text())
    return answer


def mlflow_exec(python: Path, code: str, *, cwd: Path, **env: str) -> Any:
    """Run ``code`` with the mlflow client's python; the JSON it prints last (or None)."""
    script = cwd / f"snippet_{time.monotonic_ns()}.py"
    script.write_text(code)
    done = subprocess.run(
        [str(python), str(script)],
        cwd=cwd,
        env=mlflow_env(**env),
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        pytest.fail(f"mlflow snippet failed ({done.returncode}):\n{done.stderr[-6000:]}")
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    try:
        return json.loads(lines[-1]) if lines else None
    except ValueError:
        return None  # the snippet printed no result (mlflow's own messages only)
