"""Bad input to `mltrail import`: one clear line that names what and where, the exit code
of its kind (2 bad input, 1 other), the target kept consistent, and a re-run that continues."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mltrail import TrackingClient

from .conftest import (
    MlflowData,
    copy_sqlite_store,
    free_port,
    mlflow_exec,
    mltrail,
    start_mlflow_server,
    stop,
)


def _import(target: Path | str, source: str, *extra: str, env: dict[str, str] | None = None) -> Any:
    return mltrail("--tracking-uri", str(target), "import", "mlflow", source, *extra, env=env)


def _error_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, output
    assert "Traceback" not in output
    return lines[0]


def test_a_source_that_is_not_mlflow_data(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    empty = tmp_path / "empty"
    empty.mkdir()
    other_db = tmp_path / "other.db"
    with sqlite3.connect(other_db) as conn:
        conn.execute("CREATE TABLE things (x)")
    mltrail_store = tmp_path / "mltrail-store"
    TrackingClient(tracking_uri=str(mltrail_store)).create_experiment("x")
    cases = {
        str(text): "neither an MLflow database nor an mlruns folder",
        str(empty): "is not an MLflow file store",
        f"sqlite:///{other_db}": "is not an MLflow database",
        f"sqlite:///{mltrail_store / 'mltrail.db'}": "is an mltrail database; use `mltrail import mltrail`",
        str(tmp_path / "missing"): "does not exist",
        "ftp://example.com/x": "Unsupported SOURCE",
    }
    for source, message in cases.items():
        result = _import(tmp_path / "target", source)
        assert result.exit_code == 2, (source, result.output)
        assert message in _error_line(result.output), source


def test_an_untested_mlflow_schema_is_refused(mlflow_sqlite: MlflowData, tmp_path: Path) -> None:
    data = copy_sqlite_store(mlflow_sqlite, tmp_path / "source")
    with sqlite3.connect(data.folder / "mlflow.db") as conn:
        conn.execute("UPDATE alembic_version SET version_num = 'bf29a5ff90ea'")
    result = _import(tmp_path / "target", data.source)
    assert result.exit_code == 2
    line = _error_line(result.output)
    assert "schema revision bf29a5ff90ea" in line and "mlflow db upgrade" in line
    assert not (tmp_path / "target").exists()


def test_an_unreachable_server(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = _import(tmp_path / "target", url)
    assert result.exit_code == 1
    assert f"Cannot reach the MLflow server at {url}" in _error_line(result.output)


@pytest.fixture
def mlflow_auth_server(mlflow_python: Path, tmp_path: Path) -> Iterator[str]:
    folder = tmp_path / "auth-server"
    folder.mkdir()
    ini = folder / "auth.ini"
    ini.write_text(
        "[mlflow]\ndefault_permission = READ\n"
        f"database_uri = sqlite:///{folder / 'basic_auth.db'}\n"
        "admin_username = admin\nadmin_password = admin-password-1\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
    )
    proc, url = start_mlflow_server(
        mlflow_python,
        folder,
        f"sqlite:///{folder / 'mlflow.db'}",
        app="basic-auth",
        env={"MLFLOW_AUTH_CONFIG_PATH": str(ini), "MLFLOW_FLASK_SERVER_SECRET_KEY": "test-secret"},
    )
    try:
        mlflow_exec(
            mlflow_python,
            "import mlflow\nwith mlflow.start_run():\n    mlflow.log_metric('x', 1.0)\n",
            cwd=folder,
            MLFLOW_TRACKING_URI=url,
            MLFLOW_TRACKING_USERNAME="admin",
            MLFLOW_TRACKING_PASSWORD="admin-password-1",
        )
        yield url
    finally:
        stop(proc)


@pytest.mark.mlflow
def test_wrong_credentials_then_the_right_ones(mlflow_auth_server: str, tmp_path: Path) -> None:
    wrong = {"MLFLOW_TRACKING_USERNAME": "admin", "MLFLOW_TRACKING_PASSWORD": "nope"}
    result = _import(tmp_path / "target", mlflow_auth_server, env=wrong)
    assert result.exit_code == 1
    line = _error_line(result.output)
    assert "refused" in line and "HTTP 401" in line and "MLFLOW_TRACKING_PASSWORD" in line
    right = {"MLFLOW_TRACKING_USERNAME": "admin", "MLFLOW_TRACKING_PASSWORD": "admin-password-1"}
    result = _import(tmp_path / "target", mlflow_auth_server, env=right)
    assert result.exit_code == 0, result.output


def test_artifacts_missing_at_the_source(mlflow_sqlite: MlflowData, tmp_path: Path) -> None:
    data = copy_sqlite_store(mlflow_sqlite, tmp_path / "source")
    with sqlite3.connect(data.folder / "mlflow.db") as conn:
        ((location,),) = conn.execute(
            "SELECT storage_location FROM model_versions WHERE version = 3"
        ).fetchall()
    hidden = tmp_path / "hidden"
    shutil.move(location, hidden)
    store = tmp_path / "store"
    result = _import(store, data.source)
    assert result.exit_code == 1
    model_id = Path(location).parent.name
    assert f"model {model_id}: its artifacts are missing at the source ({location}" in result.output
    assert "the import is incomplete" in _error_line(result.output)
    # Everything else is in, readable and consistent.
    client = TrackingClient(tracking_uri=str(store))
    assert len(client.get_metric_history(data.runs["parent"], "long")) == 3000
    shutil.move(hidden, location)
    again = _import(store, data.source)
    assert again.exit_code == 0, again.output
    assert client.get_model_version("churn-model", 3).model_id == model_id
    model = client.get_logged_model(model_id)
    assert (Path(model.artifact_location.removeprefix("file://")) / "model.skops").is_file()


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.fail("this test mounts a 2 MB tmpfs and needs root (see /work/shared/notes.md)")
    mount = tmp_path / "tiny"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_at_the_target(
    mlflow_sqlite: MlflowData, tiny_disk: Path, tmp_path: Path
) -> None:
    data = copy_sqlite_store(mlflow_sqlite, tmp_path / "source")
    with sqlite3.connect(data.folder / "mlflow.db") as conn:
        ((artifact_uri,),) = conn.execute(
            f"SELECT artifact_uri FROM runs WHERE run_uuid = '{data.runs['parent']}'"
        ).fetchall()
    (Path(artifact_uri) / "big.bin").write_bytes(os.urandom(3 * 1024 * 1024))
    store = tiny_disk / "store"
    result = _import(store, data.source)
    assert result.exit_code == 1
    line = _error_line(result.output)
    assert "full" in line and "run the same command again" in line
    # What was written is whole and readable; the half-copied file left no trace.
    client = TrackingClient(tracking_uri=str(store))
    assert len(client.get_metric_history(data.runs["parent"], "long")) == 3000
    assert not list(store.rglob("big.bin*"))
    # Room is made (the tmpfs grows): the same command continues where it stopped.
    subprocess.run(["mount", "-o", "remount,size=16m", str(tiny_disk)], check=True)
    again = _import(store, data.source)
    assert again.exit_code == 0, again.output
    assert "runs (new)" not in again.output
    copied = client.list_artifacts(data.runs["parent"])
    assert "big.bin" in {f.path for f in copied}
