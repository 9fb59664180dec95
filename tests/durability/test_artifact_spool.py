"""Artifacts and models logged while the server is down wait in the spool and arrive with sync.

A real server is stopped while a training script still has its model, notes and a folder
to log: nothing fails, the run ends with the status the script gave it, and after the
server is back `mltrail sync` (or the process itself) uploads the files, creates the model
with the id the script was told, registers it, and only then records the run's end.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mltrail.client.spool import Spool, spool_files
from mltrail.client.sync import pending
from mltrail.errors import ArtifactSpoolFull

from .conftest import SEND_SPOOL_WHEN_BACK, clean_env, count_points, read_line, spawn_script, sync

SCRIPT = (
    """
import sys
from pathlib import Path
import numpy as np
from sklearn.linear_model import LogisticRegression
import mltrail

mltrail.set_tracking_uri({url!r})
mltrail.set_experiment("outage")
X = np.array([[0.0, 1.0], [1.0, 0.0], [0.2, 0.9], [0.9, 0.1]] * 5)
y = np.array([0, 1, 0, 1] * 5)
with mltrail.start_run(run_name="model-in-outage") as run:
    mltrail.log_param("C", "0.5")
    for i in range(100):
        mltrail.log_metric("loss", 1.0 / (i + 1), step=i)
    mltrail.flush()
    print(run.info.run_id, flush=True)
    sys.stdin.readline()  # the server is stopped now
    model = LogisticRegression(C=0.5).fit(X, y)
    for i in range(100, 200):
        mltrail.log_metric("loss", 1.0 / (i + 1), step=i)
    mltrail.log_text("trained while the server was down", "notes/summary.txt")
    data = Path({data_dir!r})
    data.mkdir()
    (data / "a.csv").write_text("x,y\\n1,2\\n")
    (data / "b.csv").write_text("x,y\\n3,4\\n")
    mltrail.log_artifacts(str(data), "data")
    info = mltrail.sklearn.log_model(model, name="clf", registered_model_name="churn")
    print(info.model_uri, flush=True)
print("ended", flush=True)
"""
    + SEND_SPOOL_WHEN_BACK
)


def _say(proc: Any) -> None:
    proc.stdin.write("\n")
    proc.stdin.flush()


def _log_through_outage(
    make_server: Any, tmp_path: Path, *, wait_for_server: bool
) -> tuple[Any, Any, Path, dict[str, str], str, str]:
    server = make_server().start()
    spool_dir = tmp_path / "spool"
    env = clean_env(
        MLTRAIL_SPOOL_DIR=str(spool_dir), MLTRAIL_HTTP_MAX_RETRIES="1", MLTRAIL_FLUSH_TIMEOUT="3"
    )
    code = SCRIPT.format(
        url=server.url,
        data_dir=str(tmp_path / "data"),
        spool_dir=str(spool_dir),
        wait_for_server=wait_for_server,
    )
    proc = spawn_script(code, env=env)
    run_id = read_line(proc)
    server.stop()
    _say(proc)
    model_uri = read_line(proc)
    assert read_line(proc) == "ended"
    return server, proc, spool_dir, env, run_id, model_uri


def _check_arrived(url: str, run_id: str, model_uri: str, tmp_path: Path) -> None:
    import mltrail
    from mltrail.client.tracking_client import TrackingClient

    client = TrackingClient(url)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params == {"C": "0.5"}
    assert count_points(url, run_id, "loss") == 200
    paths = {f.path for f in client.list_artifacts(run_id, "data")}
    assert paths == {"data/a.csv", "data/b.csv"}
    notes = client.download_artifacts(run_id, "notes/summary.txt", tmp_path / "dl")
    assert Path(notes).read_text() == "trained while the server was down"

    model_id = model_uri.removeprefix("models:/")
    logged = client.get_logged_model(model_id)
    assert logged.status.name == "READY"
    assert logged.source_run_id == run_id
    assert logged.params == {"C": "0.5"}
    mltrail.set_tracking_uri(url)
    model = mltrail.sklearn.load_model(model_uri)
    assert model.predict([[0.0, 1.0], [1.0, 0.0]]).tolist() == [0, 1]
    versions = client.search_model_versions("name = 'churn'")
    assert [(v.version, v.model_id, v.run_id) for v in versions] == [(1, model_id, run_id)]


@pytest.mark.timeout(240)
def test_model_and_artifacts_logged_during_an_outage_arrive_with_sync(
    make_server: Any, tmp_path: Path
) -> None:
    server, proc, spool_dir, env, run_id, model_uri = _log_through_outage(
        make_server, tmp_path, wait_for_server=False
    )
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert "model 'clf'" in err and "kept in the offline spool" in err
    assert "3 artifacts or models" in err
    assert pending(spool_dir).uploads == 3

    server.start()
    listed = sync("sync", "--spool-dir", str(spool_dir), "--list", env=env)
    assert "and 3 artifacts or models" in listed.stdout, listed.stdout + listed.stderr
    synced = sync("sync", "--spool-dir", str(spool_dir), env=env)
    assert synced.returncode == 0, synced.stdout + synced.stderr
    assert "and 3 artifacts or models" in synced.stdout
    assert spool_files(spool_dir) == []
    _check_arrived(server.url, run_id, model_uri, tmp_path)

    again = sync("sync", "--spool-dir", str(spool_dir), env=env)
    assert again.returncode == 0
    _check_arrived(server.url, run_id, model_uri, tmp_path / "again")


@pytest.mark.timeout(240)
def test_the_process_uploads_what_it_kept_once_the_server_is_back(
    make_server: Any, tmp_path: Path
) -> None:
    server, proc, _, _, run_id, model_uri = _log_through_outage(
        make_server, tmp_path, wait_for_server=True
    )
    server.start()
    _say(proc)
    assert read_line(proc) == "spool empty True"
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    _check_arrived(server.url, run_id, model_uri, tmp_path)


def test_the_spool_refuses_files_past_its_limit_and_keeps_nothing(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "run-x.spool.db")
    try:

        def stage(folder: Path) -> None:
            (folder / "f.bin").write_bytes(b"x" * 600)

        spool.add_files(kind="run", manifest={}, size=600, limit=1000, stage=stage)
        with pytest.raises(ArtifactSpoolFull, match="MLTRAIL_SPOOL_MAX_ARTIFACT_BYTES"):
            spool.add_files(kind="run", manifest={}, size=600, limit=1000, stage=stage)
        assert spool.file_counts() == (1, 600)
        assert len(list(spool.files_root.iterdir())) == 1

        def broken(folder: Path) -> None:
            (folder / "part").write_bytes(b"y")
            raise OSError("disk full")

        with pytest.raises(OSError):
            spool.add_files(kind="run", manifest={}, size=1, limit=1000, stage=broken)
        assert spool.file_counts() == (1, 600)
        assert len(list(spool.files_root.iterdir())) == 1
    finally:
        spool.close()


def test_a_spool_file_naming_a_folder_outside_it_is_refused(tmp_path: Path) -> None:
    import sqlite3

    from mltrail.errors import ConfigurationError

    victim = tmp_path / "victim"
    victim.mkdir()
    path = tmp_path / "spool" / "run-x.spool.db"
    Spool(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO files (kind, folder, bytes, manifest, created_time) "
            "VALUES ('run', '../../victim', 0, '{}', 0)"
        )
    spool = Spool(path)
    try:
        with pytest.raises(ConfigurationError, match="not a spool file this version wrote"):
            spool.files()
    finally:
        spool.close()
    assert victim.is_dir()


def test_a_wrong_address_fails_instead_of_spooling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harness.servers import free_port
    from mltrail.client.tracking_client import TrackingClient
    from mltrail.errors import TrackingServerUnreachable

    spool_dir = tmp_path / "spool"
    monkeypatch.setenv("MLTRAIL_SPOOL_DIR", str(spool_dir))
    client = TrackingClient(f"http://127.0.0.1:{free_port()}")
    note = tmp_path / "note.txt"
    note.write_text("x")
    with pytest.raises(TrackingServerUnreachable):
        client.log_artifact("0" * 32, note)
    assert not spool_dir.exists()


def test_offline_mode_keeps_artifacts_and_models_for_sync(make_server: Any, tmp_path: Path) -> None:
    server = make_server()
    spool_dir = tmp_path / "spool"
    env = clean_env(MLTRAIL_SPOOL_DIR=str(spool_dir), MLTRAIL_OFFLINE="1")
    code = f"""
import numpy as np
from sklearn.linear_model import LogisticRegression
import mltrail
mltrail.set_tracking_uri({server.url!r})
mltrail.set_experiment("air-gapped")
X = np.array([[0.0, 1.0], [1.0, 0.0]] * 4)
y = np.array([0, 1] * 4)
with mltrail.start_run() as run:
    mltrail.log_param("C", "0.5")
    mltrail.log_metric("loss", 0.5)
    mltrail.log_text("offline", "notes/summary.txt")
    info = mltrail.sklearn.log_model(LogisticRegression(C=0.5).fit(X, y), name="clf")
print(run.info.run_id, info.model_uri)
"""
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    run_id, model_uri = done.stdout.split()
    server.start()
    env.pop("MLTRAIL_OFFLINE")
    synced = sync("sync", "--spool-dir", str(spool_dir), env=env)
    assert synced.returncode == 0, synced.stdout + synced.stderr
    assert "and 2 artifacts or models" in synced.stdout

    import mltrail
    from mltrail.client.tracking_client import TrackingClient

    client = TrackingClient(server.url)
    assert client.get_run(run_id).info.status == "FINISHED"
    assert [f.path for f in client.list_artifacts(run_id, "notes")] == ["notes/summary.txt"]
    logged = client.get_logged_model(model_uri.removeprefix("models:/"))
    assert logged.status.name == "READY"
    mltrail.set_tracking_uri(server.url)
    assert mltrail.sklearn.load_model(model_uri).predict([[1.0, 0.0]]).tolist() == [1]
