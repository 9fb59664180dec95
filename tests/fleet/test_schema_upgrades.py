"""Schema upgrades across a fleet.

* A rolling upgrade: replicas of the previous version (the code as it was before the newest
  revision was added, taken from git) serve while ``mltrail db upgrade`` of this version
  runs, then are replaced one at a time; an old replica started after the upgrade refuses
  the schema with a clear message. Clients log throughout; every point arrives once.
* The first released schema (0001) with data in it: ``mltrail db upgrade`` and replicas of
  this version serve the old runs and log into them.
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
import tarfile
import textwrap
from io import BytesIO
from pathlib import Path

import httpx
import pytest

from durability.test_migrations import LOSS, RUN_DONE, RUN_LIVE, SEEDS, _upgrade
from fleet.cluster import ROOT, clean_env, free_port, replica_args
from fleet.conftest import ADMIN, ADMIN_PASSWORD, Fleet, FleetFactory, mltrail_cli, prepare_database
from fleet.test_restarts import MLTRAIL_CLIENT
from mltrail.client.tracking_client import TrackingClient
from mltrail.store.sql.engine import create_engine_for
from mltrail.store.sql.migrate import MIGRATIONS_DIR, current_revision, head_revision


def _git(*args: str) -> bytes:
    done = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return done.stdout


def previous_version_source(into: Path) -> tuple[Path, str]:
    """The source tree of the last commit before the newest revision was added (its
    ``src`` folder, unpacked into ``into``), and that revision's parent."""
    head = head_revision()
    pattern = re.compile(rf"^revision\s*=\s*[\"']{re.escape(head)}[\"']", re.M)
    [head_file] = [
        p for p in (MIGRATIONS_DIR / "versions").glob("*.py") if pattern.search(p.read_text())
    ]
    relative = head_file.relative_to(ROOT).as_posix()
    # Along main's first parents, so that a revision added (or renamed) by a merge is found
    # at the merge, and the previous version is main just before it.
    added = (
        _git("log", "--first-parent", "-m", "--diff-filter=A", "--format=%H", "--", relative)
        .decode()
        .split()
    )
    # Not committed yet: the committed tree is the previous version.
    commit = f"{added[-1]}^" if added else "HEAD"
    archive = _git("archive", "--format=tar", commit, "src")
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    parent = re.search(r"^down_revision\s*=\s*[\"']([^\"']+)[\"']", head_file.read_text(), re.M)
    assert parent is not None
    return into / "src", parent.group(1)


def _start_loggers(
    fleet: Fleet, workdir: Path, stop: Path, count: int
) -> list[subprocess.Popen[str]]:
    env = clean_env(
        {
            "MLTRAIL_TRACKING_URI": fleet.url,
            "MLTRAIL_TRACKING_USERNAME": ADMIN,
            "MLTRAIL_TRACKING_PASSWORD": ADMIN_PASSWORD,
            "MLTRAIL_SPOOL_DIR": str(workdir / "spool"),
            "MLTRAIL_HTTP_MAX_RETRIES": "12",
            "MLTRAIL_FLUSH_TIMEOUT": "120",
        }
    )
    script = textwrap.dedent(MLTRAIL_CLIENT).format(experiment="upgrade")
    loggers = []
    for i in range(count):
        folder = workdir / f"logger{i}"
        folder.mkdir(parents=True)
        loggers.append(
            subprocess.Popen(
                [sys.executable, "-c", script, f"logger-{i}", str(i + 1), str(stop)],
                cwd=folder,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    for logger in loggers:
        assert logger.stdout is not None
        assert logger.stdout.readline().startswith("started"), logger.stderr
    return loggers


def test_old_replicas_serve_while_the_schema_is_upgraded_then_are_replaced(
    fleet_factory: FleetFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old_source, old_revision = previous_version_source(tmp_path / "previous")
    fleet = fleet_factory(workers=[1, 1], source=old_source, start=False)
    prepare_database(fleet, source=old_source)
    assert current_revision(create_engine_for(fleet.db_uri)) == old_revision
    for replica in fleet.replicas:
        replica.launch()
    for replica in fleet.replicas:
        replica.wait_up()
    fleet.start_nginx()
    with fleet.admin() as admin:
        assert admin.post("/api/v1/experiments", json={"name": "upgrade"}).status_code == 201

    stop = tmp_path / "stop"
    loggers = _start_loggers(fleet, tmp_path / "loggers", stop, count=4)
    try:
        # This version's upgrade, while the old replicas serve.
        upgraded = mltrail_cli("db", "upgrade", fleet.db_uri, env=fleet.env)
        assert upgraded.returncode == 0, upgraded.stderr
        assert current_revision(create_engine_for(fleet.db_uri)) == head_revision()
        with fleet.admin() as admin:
            for _ in range(4):  # through both old replicas
                assert admin.get("/api/v1/experiments/0").status_code == 200

        # An old replica started now refuses the schema it does not know.
        late = subprocess.run(
            [sys.executable, "-m", "mltrail.cli.main", "server", "--port", str(free_port()),
             "--backend-store-uri", fleet.db_uri, "--artifacts-destination", fleet.destination],
            env={**fleet.env, "PYTHONPATH": str(old_source)},
            capture_output=True, text=True, timeout=120, cwd=tmp_path,
        )  # fmt: skip
        assert late.returncode != 0
        assert "newer than this mltrail" in late.stderr and "upgrade mltrail" in late.stderr
        assert "Traceback" not in late.stderr

        # Replace the old replicas one at a time with this version, on the same ports.
        for replica in fleet.replicas:
            assert replica.terminate(timeout=90) == 0
            replica.source = None
            replica.args = replica_args(
                port=replica.port,
                backend_store_uri=fleet.db_uri,
                artifacts_destination=fleet.destination,
            )
            replica.start()
            ready = httpx.get(f"{replica.url}/ready", timeout=30)
            assert ready.status_code == 200 and ready.json()["schema"] == "current", ready.text
        stop.touch()
        outputs = [logger.communicate(timeout=600) for logger in loggers]
    finally:
        for logger in loggers:
            if logger.poll() is None:
                logger.kill()
    for logger, (_, err) in zip(loggers, outputs, strict=True):
        assert logger.returncode == 0, err[-3000:]
        assert "Traceback" not in err
    steps = {f"logger-{i}": int(out.split()[-1]) for i, (out, _) in enumerate(outputs)}

    monkeypatch.setenv("MLTRAIL_TRACKING_USERNAME", ADMIN)
    monkeypatch.setenv("MLTRAIL_TRACKING_PASSWORD", ADMIN_PASSWORD)
    api = TrackingClient(fleet.url)
    experiment = api.get_experiment_by_name("upgrade")
    assert experiment is not None
    runs = api.search_runs([experiment.experiment_id])
    assert sorted(r.info.run_name for r in runs) == sorted(steps)
    for run in runs:
        seed = int(run.data.params["seed"])
        history = [(m.step, m.value) for m in api.get_metric_history(run.info.run_id, "loss")]
        assert history == [(s, seed * 1e6 + s) for s in range(steps[run.info.run_name])]
        assert run.info.status == "FINISHED"


def test_a_database_of_the_first_release_is_upgraded_and_served(
    fleet_factory: FleetFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    fleet = fleet_factory(workers=[1, 1], start=False)
    engine = create_engine_for(fleet.db_uri)
    _upgrade(engine, "0001")
    with engine.begin() as conn:
        SEEDS["0001"].insert(conn)
    prepare_database(fleet)  # `mltrail db upgrade` from 0001, then the first admin
    assert current_revision(engine) == head_revision()
    with engine.begin() as conn:
        SEEDS["0001"].check(conn)
    engine.dispose()
    for replica in fleet.replicas:
        replica.start()
    fleet.start_nginx()

    monkeypatch.setenv("MLTRAIL_TRACKING_USERNAME", ADMIN)
    monkeypatch.setenv("MLTRAIL_TRACKING_PASSWORD", ADMIN_PASSWORD)
    api = TrackingClient(fleet.url)
    done = api.get_run(RUN_DONE)
    assert done.info.status == "FINISHED"
    assert done.data.params == {"lr": "0.01", "solver": "lbfgs"}
    history = [m.value for m in api.get_metric_history(RUN_DONE, "loss")]
    assert len(history) == 150 and history[:3] == LOSS[:3] and history[6:] == LOSS[6:]
    assert math.isnan(history[3]) and history[4] == math.inf and history[5] == -math.inf
    # The old running run takes new points through either replica.
    for step in range(4):
        api.log_metric(RUN_LIVE, "after-upgrade", float(step), step=step)
    assert [m.step for m in api.get_metric_history(RUN_LIVE, "after-upgrade")] == [0, 1, 2, 3]
    with fleet.admin() as admin:
        searched = admin.post(
            "/api/2.0/mlflow/runs/search",
            json={"experiment_ids": ["7"], "filter": "params.lr = '0.01'"},
        )
    assert [r["info"]["run_id"] for r in searched.json()["runs"]] == [RUN_DONE]
