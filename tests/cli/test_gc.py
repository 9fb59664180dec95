"""``mltrail gc`` on real databases (SQLite, PostgreSQL, MariaDB) and real artifact folders."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Table, func, select, update

from mltrail.cli.main import cli
from mltrail.client.tracking_client import TrackingClient
from mltrail.entities import Metric, Param, RunTag
from mltrail.store import schema
from mltrail.store.sql import create_engine_for

DAY_MS = 86_400_000


def gc(*args: str, expect: int = 0) -> Result:
    result = CliRunner().invoke(cli, ["gc", *args], catch_exceptions=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == expect, (result.stdout, result.stderr)
    return result


@dataclass
class World:
    db_uri: str
    client: TrackingClient
    root: Path

    def run_with_files(self, experiment_id: str, name: str) -> str:
        run = self.client.create_run(experiment_id, run_name=name)
        run_id = run.info.run_id
        self.client.log_batch(
            run_id,
            metrics=[Metric("loss", 0.5, 1, 0), Metric("loss", 0.25, 2, 1)],
            params=[Param("lr", "0.1")],
            tags=[RunTag("team", "a")],
        )
        self.client.log_text(run_id, "weights", "model/weights.txt")
        return run_id

    def artifact_dir(self, run_id: str) -> Path:
        uri = self.client.get_run(run_id).info.artifact_uri
        from mltrail.artifacts.local import local_path_from_uri

        return local_path_from_uri(uri)

    def count(self, table: Table, **where: object) -> int:
        engine = create_engine_for(self.db_uri)
        try:
            query = select(func.count()).select_from(table)
            for key, value in where.items():
                query = query.where(table.c[key] == value)
            with engine.connect() as conn:
                return int(conn.execute(query).scalar_one())
        finally:
            engine.dispose()

    def backdate(
        self, *, run_id: str | None = None, experiment_id: str | None = None, days: int
    ) -> None:
        """Pretend the deletion happened ``days`` ago."""
        import time

        when = int(time.time() * 1000) - days * DAY_MS
        engine = create_engine_for(self.db_uri)
        try:
            with engine.begin() as conn:
                if run_id is not None:
                    conn.execute(
                        update(schema.runs)
                        .where(schema.runs.c.run_id == run_id)
                        .values(deleted_time=when)
                    )
                if experiment_id is not None:
                    conn.execute(
                        update(schema.experiments)
                        .where(schema.experiments.c.experiment_id == int(experiment_id))
                        .values(deleted_time=when)
                    )
                    conn.execute(
                        update(schema.runs)
                        .where(schema.runs.c.experiment_id == int(experiment_id))
                        .values(deleted_time=when)
                    )
        finally:
            engine.dispose()

    def run_rows(self, run_id: str) -> dict[str, int]:
        return {
            t.name: self.count(t, run_id=run_id)
            for t in (
                schema.runs,
                schema.params,
                schema.tags,
                schema.metric_chunks,
                schema.metric_summaries,
            )
        }


@pytest.fixture
def world(db_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLTRAIL_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLTRAIL_BACKEND_STORE_URI", raising=False)
    monkeypatch.delenv("MLTRAIL_ARTIFACTS_DESTINATION", raising=False)
    return World(db_uri=db_uri, client=TrackingClient(db_uri), root=tmp_path)


def test_gc_removes_deleted_runs_rows_and_files(world: World) -> None:
    exp = world.client.create_experiment("exp-a")
    gone = world.run_with_files(exp, "gone")
    kept = world.run_with_files(exp, "kept")
    gone_dir, kept_dir = world.artifact_dir(gone), world.artifact_dir(kept)
    assert (gone_dir / "model" / "weights.txt").is_file()
    world.client.delete_run(gone)

    result = gc("--backend-store-uri", world.db_uri)
    assert f"Removed run {gone}" in result.stdout
    assert "Removed 0 experiment(s), 1 run(s), 1 artifact folder(s)." in result.stdout
    assert all(n == 0 for n in world.run_rows(gone).values()), world.run_rows(gone)
    assert not gone_dir.exists()
    # The now-empty <run_id> folder does not linger either.
    assert not gone_dir.parent.exists()
    assert world.run_rows(kept) == {
        "runs": 1,
        "params": 1,
        "tags": world.count(schema.tags, run_id=kept),
        "metric_chunks": world.count(schema.metric_chunks, run_id=kept),
        "metric_summaries": 1,
    }
    assert (kept_dir / "model" / "weights.txt").read_text() == "weights"
    assert world.client.get_run(kept).info.lifecycle_stage == "active"

    again = gc("--backend-store-uri", world.db_uri)
    assert "Removed 0 experiment(s), 0 run(s), 0 artifact folder(s)." in again.stdout


def test_dry_run_lists_and_changes_nothing(world: World) -> None:
    exp = world.client.create_experiment("exp-b")
    run_id = world.run_with_files(exp, "r")
    world.client.delete_run(run_id)
    folder = world.artifact_dir(run_id)

    result = gc("--backend-store-uri", world.db_uri, "--dry-run", "-o", "json")
    report = json.loads(result.stdout)
    assert report["dry_run"] is True
    assert [r["run_id"] for r in report["runs"]] == [run_id]
    assert len(report["artifact_locations"]) == 1
    assert world.count(schema.runs, run_id=run_id) == 1
    assert (folder / "model" / "weights.txt").is_file()
    assert world.client.get_run(run_id).info.lifecycle_stage == "deleted"


def test_deleted_experiment_goes_with_all_its_runs(world: World) -> None:
    doomed = world.client.create_experiment("doomed")
    r1 = world.run_with_files(doomed, "one")
    r2 = world.run_with_files(doomed, "two")
    world.client.set_experiment_tag(doomed, "owner", "x")
    other = world.client.create_experiment("other")
    r3 = world.run_with_files(other, "three")
    exp_dir = world.artifact_dir(r1).parent.parent
    world.client.delete_experiment(doomed)

    result = gc("--backend-store-uri", world.db_uri)
    assert f"Removed experiment {doomed} ('doomed', 2 run(s))" in result.stdout
    assert world.count(schema.experiments, experiment_id=int(doomed)) == 0
    assert world.count(schema.experiment_tags, experiment_id=int(doomed)) == 0
    assert world.count(schema.runs, experiment_id=int(doomed)) == 0
    for run_id in (r1, r2):
        assert all(n == 0 for n in world.run_rows(run_id).values())
    assert not exp_dir.exists()
    assert world.client.get_run(r3).info.lifecycle_stage == "active"
    assert (world.artifact_dir(r3) / "model" / "weights.txt").is_file()
    # The name is free again.
    assert world.client.create_experiment("doomed")


def test_older_than_keeps_recent_deletions(world: World) -> None:
    exp = world.client.create_experiment("ages")
    old = world.run_with_files(exp, "old")
    recent = world.run_with_files(exp, "recent")
    world.client.delete_run(old)
    world.client.delete_run(recent)
    world.backdate(run_id=old, days=40)
    world.backdate(run_id=recent, days=2)

    result = gc("--backend-store-uri", world.db_uri, "--older-than", "30d")
    assert f"Removed run {old}" in result.stdout
    assert recent not in result.stdout
    assert world.count(schema.runs, run_id=old) == 0
    assert world.count(schema.runs, run_id=recent) == 1
    assert (world.artifact_dir(recent) / "model" / "weights.txt").is_file()

    gc("--backend-store-uri", world.db_uri, "--older-than", "1d12h")
    assert world.count(schema.runs, run_id=recent) == 0


def test_experiment_and_run_filters(world: World) -> None:
    e1 = world.client.create_experiment("f1")
    e2 = world.client.create_experiment("f2")
    a = world.run_with_files(e1, "a")
    b = world.run_with_files(e2, "b")
    c = world.run_with_files(e2, "c")
    for run_id in (a, b, c):
        world.client.delete_run(run_id)

    gc("--backend-store-uri", world.db_uri, "--experiment-ids", e1)
    assert world.count(schema.runs, run_id=a) == 0
    assert world.count(schema.runs, run_id=b) == 1
    gc("--backend-store-uri", world.db_uri, "--run-ids", c)
    assert world.count(schema.runs, run_id=c) == 0
    assert world.count(schema.runs, run_id=b) == 1


def test_bad_input_is_a_clear_error(world: World) -> None:
    result = gc("--backend-store-uri", world.db_uri, "--older-than", "ten days", expect=2)
    assert "Invalid age 'ten days'" in result.stderr
    result = gc("--backend-store-uri", world.db_uri, "--experiment-ids", "abc", expect=2)
    assert "Invalid experiment id 'abc'" in result.stderr
    result = gc("--backend-store-uri", "http://127.0.0.1:5999", expect=2)
    assert "not through a server" in result.stderr


def _served_run(db_uri: str, dest: Path) -> tuple[str, str, Path]:
    """A deleted run as a server that proxies artifacts records it, with its files under
    ``dest`` (the server's --artifacts-destination)."""
    from mltrail.store.sql import open_store

    store = open_store(db_uri, default_artifact_root="mlflow-artifacts:/")
    try:
        exp_id = store.create_experiment("served", artifact_location=None, tags={}, creation_time=1)
        run = store.create_run(
            exp_id, run_id=uuid.uuid4().hex, run_name="r", user_id="u", start_time=1, tags={}
        )
        store.delete_run(run.info.run_id, deleted_time=1)
    finally:
        store.close()
    run_id = run.info.run_id
    assert run.info.artifact_uri == f"mlflow-artifacts:/{exp_id}/{run_id}/artifacts"
    files = dest / exp_id / run_id / "artifacts"
    files.mkdir(parents=True)
    (files / "model.pkl").write_bytes(b"x")
    return exp_id, run_id, files


@pytest.mark.parametrize("db_uri", ["sqlite"], indirect=True)
def test_a_missing_artifacts_destination_is_refused(
    db_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _, run_id, files = _served_run(db_uri, tmp_path / "served")
    result = gc(
        "--backend-store-uri", db_uri, "--artifacts-destination", str(tmp_path / "nope"), expect=2
    )
    assert "--artifacts-destination" in result.stderr
    assert files.is_dir()
    assert TrackingClient(db_uri).get_run(run_id).info.lifecycle_stage == "deleted"


@pytest.mark.parametrize("db_uri", ["sqlite"], indirect=True)
def test_proxied_location_removed_from_destination(
    db_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    dest = tmp_path / "served"
    exp_id, run_id, _ = _served_run(db_uri, dest)
    keep = dest / exp_id / "other-run" / "artifacts" / "f.txt"
    keep.parent.mkdir(parents=True)
    keep.write_text("keep")

    result = gc("--backend-store-uri", db_uri, "--artifacts-destination", str(dest))
    assert f"Removed artifacts mlflow-artifacts:/{exp_id}/{run_id}/artifacts" in result.stdout
    assert not (dest / exp_id / run_id).exists()
    assert keep.read_text() == "keep"
