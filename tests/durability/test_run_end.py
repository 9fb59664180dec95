"""A run that ends while its server is down: the end (status, end time) waits in the spool
with the batches and is recorded after them, by `mltrail sync` or by the process itself."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from mltrail.client.rest import RestBackend
from mltrail.client.spool import spool_files
from mltrail.config import Settings

from .conftest import SEND_SPOOL_WHEN_BACK, clean_env, count_points, read_line, spawn_script, sync

SCRIPT = (
    """
import sys, mltrail
mltrail.set_tracking_uri({url!r})
run = mltrail.start_run(run_name="ends-offline")
mltrail.log_param("lr", "0.1")
for i in range(1000):
    mltrail.log_metric("loss", float(i), step=i)
mltrail.flush()
print(run.info.run_id, flush=True)
sys.stdin.readline()  # the server is stopped now
for i in range(1000, 2500):
    mltrail.log_metric("loss", float(i), step=i)
mltrail.end_run()
print("ended", flush=True)
"""
    + SEND_SPOOL_WHEN_BACK
)


def _start(server: Any, spool_dir: Path, *, wait_for_server: bool) -> Any:
    env = clean_env(
        MLTRAIL_SPOOL_DIR=str(spool_dir), MLTRAIL_HTTP_MAX_RETRIES="1", MLTRAIL_FLUSH_TIMEOUT="3"
    )
    code = SCRIPT.format(url=server.url, spool_dir=str(spool_dir), wait_for_server=wait_for_server)
    return spawn_script(code, env=env)


def _check_finished(url: str, run_id: str, *, ended_before: int) -> None:
    backend = RestBackend(url, settings=Settings())
    try:
        run = backend.get_run(run_id)
    finally:
        backend.close()
    assert run.info.status == "FINISHED"
    assert run.info.end_time is not None and run.info.end_time <= ended_before
    assert run.info.end_time >= run.info.start_time
    assert run.data.params == {"lr": "0.1"}
    assert count_points(url, run_id, "loss") == 2500


def test_run_ended_while_the_server_is_down_is_finished_after_sync(
    make_server: Any, tmp_path: Path
) -> None:
    server = make_server().start()
    spool_dir = tmp_path / "spool"
    proc = _start(server, spool_dir, wait_for_server=False)
    try:
        run_id = read_line(proc)
        server.stop()
        proc.stdin.write("\n")
        proc.stdin.flush()
        assert read_line(proc) == "ended"
        ended_before = int(time.time() * 1000) + 1
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "1500 metric points" in err and "the end of 1 run" in err, err
    assert len(spool_files(spool_dir)) == 1

    server.start()
    backend = RestBackend(server.url, settings=Settings())
    assert backend.get_run(run_id).info.status == "RUNNING"  # not recorded yet
    backend.close()
    synced = sync("sync", "--spool-dir", str(spool_dir), env=clean_env())
    assert synced.returncode == 0, synced.stderr
    assert "Synced 1500 metric points" in synced.stdout
    assert spool_files(spool_dir) == []
    _check_finished(server.url, run_id, ended_before=ended_before)


def test_run_end_kept_in_the_spool_is_sent_when_the_server_is_back(
    make_server: Any, tmp_path: Path
) -> None:
    server = make_server().start()
    spool_dir = tmp_path / "spool"
    proc = _start(server, spool_dir, wait_for_server=True)
    try:
        run_id = read_line(proc)
        server.stop()
        proc.stdin.write("\n")
        proc.stdin.flush()
        assert read_line(proc) == "ended"
        ended_before = int(time.time() * 1000) + 1
        server.start()
        proc.stdin.write("\n")
        proc.stdin.flush()
        assert read_line(proc) == "spool empty True"
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "were saved to the spool" not in err, err
    _check_finished(server.url, run_id, ended_before=ended_before)
