"""The next client start replays what earlier processes left in the spool for its server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mltrail.client.rest import RestBackend
from mltrail.client.spool import spool_files
from mltrail.config import Settings

from .conftest import clean_env, count_points, run_script, sync

LOG = """
import mltrail
mltrail.set_tracking_uri({url!r})
for i in range({n}):
    mltrail.log_metric("loss", float(i), step=i, run_id={run_id!r})
mltrail.log_param("p", "{run_id}", run_id={run_id!r})
mltrail.flush()
s = mltrail.run_stats({run_id!r})
print("stats", s.accepted, s.acknowledged, s.in_spool, flush=True)
"""


def _new_run(url: str) -> str:
    backend = RestBackend(url, settings=Settings(http_max_retries=2))
    try:
        return backend.create_run("0").info.run_id
    finally:
        backend.close()


def test_next_client_start_replays_leftover_spool_files_once(
    make_server: Any, tmp_path: Path
) -> None:
    server = make_server().start()
    first_run, second_run = _new_run(server.url), _new_run(server.url)
    server.stop()
    spool_dir = tmp_path / "spool"
    env = clean_env(MLTRAIL_SPOOL_DIR=str(spool_dir), MLTRAIL_FLUSH_TIMEOUT="30")

    # Process 1: the server is down for its whole life; its points stay in the spool.
    one = run_script(
        LOG.format(url=server.url, n=1500, run_id=first_run),
        env={**env, "MLTRAIL_HTTP_MAX_RETRIES": "1", "MLTRAIL_FLUSH_TIMEOUT": "2"},
    )
    assert one.returncode == 0, one.stderr
    assert "stats 1500 0 1500" in one.stdout, one.stdout
    assert "1500 metric points" in one.stderr, one.stderr
    [left] = spool_files(spool_dir)
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / left.name).write_bytes(left.read_bytes())

    # Process 2 logs to another run; starting to log sends process 1's spool on the side.
    server.start()
    two = run_script(LOG.format(url=server.url, n=800, run_id=second_run), env=env)
    assert two.returncode == 0, two.stderr
    assert "stats 800 800 0" in two.stdout, two.stdout
    assert "saved to the spool" not in two.stderr, two.stderr
    assert count_points(server.url, first_run, "loss") == 1500
    assert count_points(server.url, second_run, "loss") == 800
    assert spool_files(spool_dir) == []
    backend = RestBackend(server.url, settings=Settings())
    assert backend.get_run(first_run).data.params == {"p": first_run}
    backend.close()

    # A later sync (of the emptied folder, and of a copy of the old file) applies nothing twice.
    assert sync("sync", "--spool-dir", str(spool_dir), env=clean_env()).returncode == 0
    again = sync("sync", "--spool-dir", str(copy), env=clean_env())
    assert again.returncode == 0, again.stderr
    assert "Synced 1500 metric points" in again.stdout
    assert count_points(server.url, first_run, "loss") == 1500
    assert count_points(server.url, second_run, "loss") == 800


def test_files_of_another_server_are_left_alone(make_server: Any, tmp_path: Path) -> None:
    gone = make_server()  # never started: its spool file must wait for that server
    server = make_server().start()
    run_id = _new_run(server.url)
    spool_dir = tmp_path / "spool"
    env = clean_env(
        MLTRAIL_SPOOL_DIR=str(spool_dir),
        MLTRAIL_HTTP_MAX_RETRIES="0",
        MLTRAIL_FLUSH_TIMEOUT="2",
    )
    one = run_script(LOG.format(url=gone.url, n=300, run_id="r" * 32), env=env)
    assert "300 metric points" in one.stderr, one.stderr
    [other] = spool_files(spool_dir)
    two = run_script(
        LOG.format(url=server.url, n=200, run_id=run_id),
        env={**env, "MLTRAIL_FLUSH_TIMEOUT": "30"},
    )
    assert two.returncode == 0, two.stderr
    assert count_points(server.url, run_id, "loss") == 200
    assert spool_files(spool_dir) == [other]
