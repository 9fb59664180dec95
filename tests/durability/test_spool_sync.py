"""The offline spool with real processes: a server that goes away, exit, sync, offline mode."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from mltrail.client.rest import RestBackend
from mltrail.client.spool import spool_files
from mltrail.config import Settings

from .conftest import clean_env, count_points, run_script, spawn_script, sync

LOG_TO_RUN = """
import sys, mltrail
mltrail.set_tracking_uri(sys.argv[1] if len(sys.argv) > 1 else {url!r})
for i in range({n}):
    mltrail.log_metric("loss", float(i), step=i, run_id={run_id!r})
mltrail.log_param("lr", "0.1", run_id={run_id!r})
"""


def _new_run(url: str) -> str:
    backend = RestBackend(url, settings=Settings(http_max_retries=2))
    try:
        return backend.create_run("0").info.run_id
    finally:
        backend.close()


def test_unreachable_server_at_exit_spools_then_sync_applies_once(
    make_server: Any, tmp_path: Path
) -> None:
    server = make_server().start()
    run_id = _new_run(server.url)
    server.stop()
    spool_dir = tmp_path / "spool"
    env = clean_env(
        MLTRAIL_SPOOL_DIR=str(spool_dir), MLTRAIL_FLUSH_TIMEOUT="2", MLTRAIL_HTTP_MAX_RETRIES="30"
    )
    started = time.monotonic()
    done = run_script(LOG_TO_RUN.format(url=server.url, n=1500, run_id=run_id), env=env)
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    # A retry budget of 30 attempts would take minutes; the exit waits ~flush_timeout.
    assert elapsed < 30, elapsed
    assert "1500 metric points" in done.stderr, done.stderr
    assert "mltrail sync" in done.stderr
    assert len(spool_files(spool_dir)) == 1

    server.start()
    first = sync("sync", "--spool-dir", str(spool_dir), env=clean_env())
    assert first.returncode == 0, first.stderr
    assert "Synced 1500 metric points" in first.stdout
    assert spool_files(spool_dir) == []
    assert count_points(server.url, run_id, "loss") == 1500
    backend = RestBackend(server.url, settings=Settings())
    assert backend.get_run(run_id).data.params == {"lr": "0.1"}
    backend.close()


def test_syncing_the_same_spool_twice_applies_each_batch_once(
    make_server: Any, tmp_path: Path
) -> None:
    server = make_server().start()
    run_id = _new_run(server.url)
    server.stop()
    spool_dir = tmp_path / "spool"
    env = clean_env(MLTRAIL_SPOOL_DIR=str(spool_dir), MLTRAIL_FLUSH_TIMEOUT="1")
    done = run_script(LOG_TO_RUN.format(url=server.url, n=700, run_id=run_id), env=env)
    assert "700 metric points" in done.stderr, done.stderr
    [spool] = spool_files(spool_dir)
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / spool.name).write_bytes(spool.read_bytes())

    server.start()
    assert sync("sync", "--spool-dir", str(spool_dir), env=clean_env()).returncode == 0
    # The same batches again (a second machine with a copy, a sync interrupted before
    # deleting its file): the server recognizes every key.
    again = sync("sync", "--spool-dir", str(copy), env=clean_env())
    assert again.returncode == 0, again.stderr
    assert "Synced 700 metric points" in again.stdout
    assert count_points(server.url, run_id, "loss") == 700


def test_logging_resumes_by_itself_when_the_server_is_back(
    make_server: Any, tmp_path: Path
) -> None:
    server = make_server().start()
    run_id = _new_run(server.url)
    spool_dir = tmp_path / "spool"
    code = f"""
    import sys, time, mltrail
    from mltrail.client.batching import run_stats
    mltrail.set_tracking_uri({server.url!r})
    for i in range(3000):
        mltrail.log_metric("loss", float(i), step=i, run_id={run_id!r})
        if i % 100 == 99:
            mltrail.flush()
            print(i, flush=True)
            sys.stdin.readline() if i in (999, 1999) else time.sleep(0.01)
    deadline = time.time() + 60
    while run_stats({run_id!r}).in_spool and time.time() < deadline:
        time.sleep(0.2)
    s = run_stats({run_id!r})
    print("stats", s.accepted, s.acknowledged, s.spooled, s.replayed, flush=True)
    """
    env = clean_env(
        MLTRAIL_SPOOL_DIR=str(spool_dir), MLTRAIL_HTTP_MAX_RETRIES="1", MLTRAIL_FLUSH_TIMEOUT="5"
    )
    proc = spawn_script(code, env=env)
    assert proc.stdin is not None and proc.stdout is not None
    _wait_for(proc.stdout, "999")
    server.stop()
    proc.stdin.write("\n")
    proc.stdin.flush()
    _wait_for(proc.stdout, "1999")  # 1000 points logged while the server is down
    assert spool_files(spool_dir), "nothing was spooled while the server was down"
    server.start()
    proc.stdin.write("\n")
    proc.stdin.flush()
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    stats = next(line for line in out.splitlines() if line.startswith("stats")).split()[1:]
    accepted, acknowledged, spooled, replayed = map(int, stats)
    assert accepted == 3000 and acknowledged == 3000
    assert spooled >= 1 and replayed == spooled
    assert count_points(server.url, run_id, "loss") == 3000
    assert spool_files(spool_dir) == []


def _wait_for(stream: Any, line: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        got = stream.readline()
        if not got:
            raise AssertionError(f"process ended before printing {line!r}")
        if got.strip() == line:
            return
    raise AssertionError(f"no {line!r} in time")


def test_offline_run_keeps_its_id_and_lands_in_its_experiment(
    make_server: Any, tmp_path: Path
) -> None:
    server = make_server()  # not started: an air-gapped machine
    spool_dir = tmp_path / "spool"
    code = f"""
    import mltrail
    mltrail.set_tracking_uri({server.url!r})
    mltrail.set_experiment("air-gapped")
    with mltrail.start_run(run_name="offline-run") as run:
        mltrail.log_params({{"lr": 0.01, "depth": 3}})
        for i in range(2500):
            mltrail.log_metrics({{"loss": 1.0 / (i + 1), "acc": i / 2500}}, step=i)
        mltrail.set_tag("stage", "dev")
    print(run.info.run_id)
    """
    done = run_script(code, env=clean_env(MLTRAIL_OFFLINE="1", MLTRAIL_SPOOL_DIR=str(spool_dir)))
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.strip().splitlines()[-1]
    assert len(run_id) == 32

    server.start()
    first = sync("sync", "--spool-dir", str(spool_dir), env=clean_env(MLTRAIL_OFFLINE="1"))
    assert first.returncode == 0, first.stderr
    assert "Synced 5000 metric points" in first.stdout
    backend = RestBackend(server.url, settings=Settings())
    run = backend.get_run(run_id)
    experiment = backend.get_experiment(run.info.experiment_id)
    backend.close()
    assert experiment.name == "air-gapped"
    assert run.info.run_name == "offline-run"
    assert run.info.status == "FINISHED" and run.info.end_time is not None
    assert run.data.params == {"lr": "0.01", "depth": "3"}
    assert run.data.tags["stage"] == "dev"
    assert count_points(server.url, run_id, "loss") == 2500
    assert count_points(server.url, run_id, "acc") == 2500
    assert spool_files(spool_dir) == []


def test_spool_file_is_whole_after_sigkill_of_the_writer(tmp_path: Path) -> None:
    spool_dir = tmp_path / "spool"
    code = f"""
    import uuid
    from pathlib import Path
    from mltrail.client.spool import Spool
    from mltrail.entities import Metric
    from mltrail.wire import columns_of
    spool = Spool(Path({str(spool_dir / "r-x.spool.db")!r}))
    spool.set_meta("tracking_uri", "http://127.0.0.1:9")
    spool.set_meta("run_id", "r")
    i = 0
    while True:
        spool.append(idempotency_key=uuid.uuid4().hex,
                     metrics=columns_of(Metric("m", float(j), 0, i * 1000 + j) for j in range(1000)))
        i += 1
        if i == 3:
            print("ready", flush=True)
    """
    import signal

    for _ in range(5):
        proc = spawn_script(code, env=clean_env())
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.05 + 0.1 * _)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    db = sqlite3.connect(spool_dir / "r-x.spool.db")
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    batches, points = db.execute("SELECT COUNT(*), SUM(points) FROM batches").fetchone()
    db.close()
    assert batches >= 15 and points == batches * 1000
