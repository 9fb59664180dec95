"""`mltrail import mlflow` on MLflow data made by the real mlflow client: what moves, and how
faithfully; re-runs and interrupted runs; conflicts; options; every supported database."""

from __future__ import annotations

import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from mltrail import TrackingClient
from mltrail.config import load_settings
from mltrail.entities import ViewType

from .conftest import (
    REPO_ROOT,
    MlflowData,
    copy_sqlite_store,
    mlflow_env,
    mlflow_exec,
    mltrail,
)

DBL_MAX = 1.7976931348623157e308


def _import(target: str | Path, source: str, *extra: str) -> Any:
    return mltrail("--tracking-uri", str(target), "import", "mlflow", source, *extra)


def _client(store: Path | str) -> TrackingClient:
    return TrackingClient(tracking_uri=str(store))


def _run_ids(store: Path | str) -> set[str]:
    client = _client(store)
    ids: set[str] = set()
    for exp in client.search_experiments(view_type=ViewType.ALL):
        for run in client.search_runs([exp.experiment_id], run_view_type=ViewType.ALL):
            ids.add(run.info.run_id)
    return ids


def _source_rows(data: MlflowData, query: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(data.folder / "mlflow.db") as conn:
        return list(conn.execute(query))


def test_everything_moves_with_its_ids_values_and_lifecycle(
    mlflow_sqlite: MlflowData, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    result = _import(store, mlflow_sqlite.source, "--include-deleted")
    assert result.exit_code == 0, result.output
    assert "differences" in result.output
    runs = mlflow_sqlite.runs
    assert _run_ids(store) == set(runs.values())
    client = _client(store)
    vision = client.get_experiment_by_name("vision")
    assert vision is not None and vision.tags == {"kind": "cv"}
    churn = client.get_experiment_by_name("churn")
    assert churn is not None and churn.tags["mlflow.note.content"] == "Churn models"
    ((created,),) = _source_rows(
        mlflow_sqlite, "SELECT creation_time FROM experiments WHERE name='churn'"
    )
    assert churn.creation_time == created
    old = client.get_experiment_by_name("old")
    assert old is not None and old.lifecycle_stage == "deleted"
    assert client.get_run(runs["removed"]).info.lifecycle_stage == "deleted"
    assert client.get_run(runs["ended-failed"]).info.status == "FAILED"
    assert client.get_run(runs["ended-killed"]).info.status == "KILLED"
    child = client.get_run(runs["child-0"])
    assert child.data.tags["mlflow.parentRunId"] == runs["parent"]
    ((start, end),) = _source_rows(
        mlflow_sqlite, f"SELECT start_time, end_time FROM runs WHERE run_uuid='{runs['parent']}'"
    )
    parent = client.get_run(runs["parent"])
    assert (parent.info.start_time, parent.info.end_time) == (start, end)
    assert parent.info.run_name == "parent"
    weird = client.get_metric_history(runs["parent"], "weird")
    assert math.isnan(weird[0].value)
    assert [m.value for m in weird[1:]] == [DBL_MAX, -DBL_MAX, 3.5]
    long = client.get_metric_history(runs["parent"], "long")
    assert len(long) == 3000 and long[10].value == math.sin(10 / 50.0)
    logreg = client.get_run(runs["logreg-1"])
    assert logreg.data.params == {"C": "1.0", "solver": "lbfgs", "fold": "1"}
    inputs = json.loads(logreg.data.tags["mltrail.inputs"])
    assert inputs["datasets"][0]["name"] == "churn-train"
    assert inputs["datasets"][0]["tags"] == {"mlflow.data.context": "training"}


def test_models_and_registry_keep_ids_numbers_and_point_at_the_imported_files(
    mlflow_sqlite: MlflowData, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    assert _import(store, mlflow_sqlite.source).exit_code == 0
    client = _client(store)
    source_models = {
        model_id
        for (model_id,) in _source_rows(mlflow_sqlite, "SELECT model_id FROM logged_models")
    }
    churn = client.get_experiment_by_name("churn")
    assert churn is not None
    models = client.search_logged_models([churn.experiment_id])
    assert {m.model_id for m in models} == source_models
    model = models[0]
    assert model.artifact_location.startswith((store / "artifacts").as_uri())
    assert (Path(model.artifact_location.removeprefix("file://")) / "MLmodel").is_file()
    registered = client.get_registered_model("churn-model")
    assert registered.description == "Churn classifier"
    assert registered.tags == {"owner": "ml"}
    assert dict(registered.aliases) == {"champion": 3, "previous": 1}
    v3 = client.get_model_version("churn-model", 3)
    assert v3.current_stage == "Production" and v3.tags == {"fold": "2", "validated": "yes"}
    assert v3.source.startswith("models:/m-") and v3.model_id in source_models
    assert v3.storage_location.startswith((store / "artifacts").as_uri())
    assert client.get_model_version("churn-model", 1).current_stage == "Archived"
    # Version 2 was deleted in MLflow: its number is not given again.
    new = client.create_model_version("churn-model", source=v3.source, model_id=v3.model_id)
    assert new.version == 4


def test_a_rerun_imports_only_what_is_new_or_changed(
    mlflow_sqlite: MlflowData, mlflow_python: Path, tmp_path: Path
) -> None:
    data = copy_sqlite_store(mlflow_sqlite, tmp_path / "source")
    store = tmp_path / "store"
    assert _import(store, data.source).exit_code == 0
    parent = data.runs["parent"]
    added = mlflow_exec(
        mlflow_python,
        f"""
import json, mlflow
from mlflow import MlflowClient
from mlflow.entities import Metric
c = MlflowClient()
c.log_batch("{parent}", metrics=[Metric("long", 9.0, 1800000000000 + s, 3000 + s) for s in range(5)])
c.set_tag("{parent}", "reviewed", "yes")
exp = c.get_experiment_by_name("vision").experiment_id
run = c.create_run(exp, run_name="late")
c.log_metric(run.info.run_id, "loss", 0.5, step=1)
c.set_terminated(run.info.run_id)
print(json.dumps(run.info.run_id))
""",
        cwd=data.folder,
        MLFLOW_TRACKING_URI=data.source,
    )
    again = _import(store, data.source)
    assert again.exit_code == 0, again.output
    lines = {
        line.split()[0] + " " + line.split()[1]: line
        for line in again.output.splitlines()
        if line.startswith("  runs")
    }
    assert "runs (new)" in lines and lines["runs (new)"].split()[-1] == "1"
    assert "runs (updated)" in lines and lines["runs (updated)"].split()[-1] == "1"
    client = _client(store)
    assert len(client.get_metric_history(parent, "long")) == 3005
    assert client.get_run(parent).data.tags["reviewed"] == "yes"
    assert client.get_run(added).data.metrics == {"loss": 0.5}
    third = _import(store, data.source)
    assert third.exit_code == 0
    assert "runs (new)" not in third.output and "runs (updated)" not in third.output
    assert len(client.get_metric_history(parent, "long")) == 3005


def test_a_killed_import_resumes_and_never_doubles_a_point(
    mlflow_python: Path, tmp_path: Path
) -> None:
    source = tmp_path / "mlflow.db"
    subprocess.run(
        [str(mlflow_python), str(REPO_ROOT / "bench" / "make_mlflow_db.py"), str(source),
         "--runs", "3000", "--steps", "20", "--big-run-points", "0"],
        cwd=tmp_path, env=mlflow_env(), check=True, capture_output=True, timeout=900,
    )  # fmt: skip
    store, state = tmp_path / "store", tmp_path / "state.json"
    command = [
        sys.executable, "-m", "mltrail.cli.main", "--tracking-uri", str(store),
        "import", "mlflow", f"sqlite:///{source}", "--state", str(state),
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLTRAIL_")}
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            if state.exists() and json.loads(state.read_text() or "{}").get("runs"):
                break
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.01)
        assert proc.poll() is None, "the import finished before it could be interrupted"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
        if proc.stderr is not None:
            proc.stderr.close()
    committed = len(json.loads(state.read_text())["runs"])
    assert 0 < committed < 3000
    engine = sa.create_engine(f"sqlite:///{store / 'mltrail.db'}")
    with engine.connect() as conn:
        runs = conn.execute(sa.text("SELECT count(*) FROM runs")).scalar()
        # Whole runs only: every run in the target has all of its 5 x 20 points.
        partial = conn.execute(
            sa.text(
                "SELECT count(*) FROM runs r WHERE (SELECT coalesce(sum(count), 0) FROM "
                "metric_summaries s WHERE s.run_id = r.run_id) != 100"
            )
        ).scalar()
    assert runs >= committed and partial == 0
    resumed = _import(store, f"sqlite:///{source}", "--state", str(state))
    assert resumed.exit_code == 0, resumed.output
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM runs")).scalar() == 3000
        total = conn.execute(sa.text("SELECT sum(count) FROM metric_summaries")).scalar()
    engine.dispose()
    assert total == 3000 * 5 * 20


def test_names_that_exist_in_the_target_are_a_conflict_with_a_way_out(
    mlflow_sqlite: MlflowData, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    _client(store).create_experiment("churn")
    failed = _import(store, mlflow_sqlite.source)
    assert failed.exit_code == 1
    assert "experiment 'churn'" in failed.output and "--on-conflict" in failed.output
    assert _run_ids(store) == set()
    skipped = _import(store, mlflow_sqlite.source, "--on-conflict", "skip", "--state",
                      str(tmp_path / "skip.json"))  # fmt: skip
    assert skipped.exit_code == 0, skipped.output
    assert "skipped with its runs" in skipped.output
    assert mlflow_sqlite.runs["logreg-0"] not in _run_ids(store)
    assert mlflow_sqlite.runs["parent"] in _run_ids(store)
    renamed_store = tmp_path / "renamed"
    _client(renamed_store).create_experiment("churn")
    renamed = _import(renamed_store, mlflow_sqlite.source, "--on-conflict", "rename")
    assert renamed.exit_code == 0, renamed.output
    moved = _client(renamed_store).get_experiment_by_name("churn (imported)")
    assert moved is not None
    assert _client(renamed_store).get_run(mlflow_sqlite.runs["logreg-0"]).info.experiment_id == (
        moved.experiment_id
    )


def test_dry_run_counts_and_writes_nothing(mlflow_sqlite: MlflowData, tmp_path: Path) -> None:
    store = tmp_path / "store"
    result = _import(store, mlflow_sqlite.source, "--dry-run")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Would import")
    counts = {
        " ".join(line.split()[:-1]): int(line.split()[-1].replace(",", ""))
        for line in result.output.splitlines()
        if line.startswith("  ") and line.split()[-1].replace(",", "").isdigit()
    }
    assert counts["runs"] == 9 and counts["metric points"] == 3072
    assert counts["logged models"] == 3 and counts["model versions"] == 2
    assert _run_ids(store) == set()
    assert not list(store.glob("mltrail-import-*.json"))


def test_only_the_experiments_asked_for(mlflow_sqlite: MlflowData, tmp_path: Path) -> None:
    store = tmp_path / "store"
    result = _import(store, mlflow_sqlite.source, "--experiment", "vision")
    assert result.exit_code == 0, result.output
    client = _client(store)
    assert client.get_experiment_by_name("churn") is None
    assert mlflow_sqlite.runs["parent"] in _run_ids(store)
    assert mlflow_sqlite.runs["logreg-0"] not in _run_ids(store)
    # The registered model's versions come from churn's runs: it stays behind.
    assert not list(client.search_registered_models())
    unknown = _import(store, mlflow_sqlite.source, "--experiment", "nope")
    assert unknown.exit_code == 2 and "No experiment named 'nope'" in unknown.output


def test_reference_keeps_the_artifact_locations(mlflow_sqlite: MlflowData, tmp_path: Path) -> None:
    store = tmp_path / "store"
    result = _import(store, mlflow_sqlite.source, "--artifacts", "reference")
    assert result.exit_code == 0, result.output
    parent = _client(store).get_run(mlflow_sqlite.runs["parent"])
    assert parent.info.artifact_uri.startswith(str(mlflow_sqlite.folder))
    assert not (store / "artifacts").exists() or not any((store / "artifacts").rglob("*.bin"))
    files = {f.path for f in _client(store).list_artifacts(parent.info.run_id, "notes")}
    assert files == {"notes/readme.txt"}


@pytest.mark.parametrize(
    "db",
    [
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("mysql", marks=pytest.mark.mysql),
    ],
)
def test_every_database_target(
    db: str, mlflow_sqlite: MlflowData, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    uri = str(request.getfixturevalue(f"{db}_uri"))
    state = tmp_path / "state.json"
    args = ("--include-deleted", "--state", str(state), "--artifacts-destination",
            str(tmp_path / "served"))  # fmt: skip
    result = _import(uri, mlflow_sqlite.source, *args)
    assert result.exit_code == 0, result.output
    again = _import(uri, mlflow_sqlite.source, *args)
    assert again.exit_code == 0, again.output
    assert "runs (new)" not in again.output
    client = _client(uri)
    parent = client.get_run(mlflow_sqlite.runs["parent"])
    # Laid out as `mltrail server --artifacts-destination` serves it.
    assert parent.info.artifact_uri.startswith("mlflow-artifacts:/")
    assert (tmp_path / "served" / parent.info.artifact_uri.removeprefix("mlflow-artifacts:/")
            / "notes" / "readme.txt").is_file()  # fmt: skip
    weird = client.get_metric_history(parent.info.run_id, "weird")
    assert math.isnan(weird[0].value) and weird[1].value == DBL_MAX
    assert len(client.get_metric_history(parent.info.run_id, "long")) == 3000


def test_mlflow_users_and_permissions_become_mltrail_users_and_grants(
    mlflow_sqlite: MlflowData, mlflow_python: Path, tmp_path: Path
) -> None:
    auth_db = tmp_path / "basic_auth.db"
    churn = mlflow_sqlite.ids["experiments"]["churn"]
    mlflow_exec(
        mlflow_python,
        f"""
from mlflow.server.auth.sqlalchemy_store import SqlAlchemyStore
s = SqlAlchemyStore()
s.init_db("sqlite:///{auth_db}")
s.create_user("alice", "alice-password-1", is_admin=False)
s.create_user("root", "root-password-12", is_admin=True)
s.create_user("bob", "bob-password-123", is_admin=False)
s.create_experiment_permission("{churn}", "alice", "EDIT")
s.create_registered_model_permission("churn-model", "alice", "MANAGE")
""",
        cwd=tmp_path,
    )
    with sqlite3.connect(auth_db) as conn:
        # A hash mltrail cannot verify (an htpasswd MD5-crypt one).
        conn.execute("UPDATE users SET password_hash = '$apr1$xyz$abc' WHERE username = 'bob'")
    store = tmp_path / "store"
    result = _import(store, mlflow_sqlite.source, "--auth-db", str(auth_db))
    assert result.exit_code == 0, result.output
    assert "must set a new password" in result.output and "bob" in result.output
    from mltrail.service.auth import AuthService
    from mltrail.store.sql.auth import SqlAuthStore
    from mltrail.store.sql.engine import create_engine_for

    engine = create_engine_for(f"sqlite:///{store / 'mltrail.db'}")
    try:
        auth = AuthService(store=SqlAuthStore(engine))
        alice = auth.authenticate_password("alice", "alice-password-1", address="test")
        assert not alice.is_admin
        assert auth.get_user("root").is_admin
        assert not auth.hashing.verify(auth.get_user("bob").password_hash, "bob-password-123")
        target_churn = _client(store).get_experiment_by_name("churn")
        assert target_churn is not None
        store_auth = SqlAuthStore(engine)
        assert store_auth.experiment_level(alice.id, int(target_churn.experiment_id)) == 2
        rm_id = store_auth.registered_model_id("churn-model")
        assert rm_id is not None and store_auth.registered_model_level(alice.id, rm_id) == 3
    finally:
        engine.dispose()


def test_settings_read_mlflow_credentials() -> None:
    settings = load_settings(
        {
            "MLFLOW_TRACKING_USERNAME": "u",
            "MLFLOW_TRACKING_PASSWORD": "p",
            "MLFLOW_TRACKING_TOKEN": "t",
        }
    )
    assert (settings.mlflow_tracking_username, settings.mlflow_tracking_password) == ("u", "p")
    assert settings.mlflow_tracking_token == "t"
