"""The database behind the server goes away: PostgreSQL restarted under load."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from mltrail.client.rest import RestBackend
from mltrail.config import Settings

from .conftest import clean_env, count_points, spawn_script, sync

PG_CLUSTER = ["pg_ctlcluster", "--skip-systemctl-redirect", "15", "main"]
LOG = """
import mltrail
mltrail.set_tracking_uri({url!r})
for b in range({batches}):
    for i in range(1000):
        mltrail.log_metric("loss", float(i), step=b * 1000 + i, run_id={run_id!r})
    mltrail.flush()
    print("batch", b, flush=True)
"""


def _cluster(action: str) -> None:
    done = subprocess.run([*PG_CLUSTER, action], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"pg_ctlcluster {action} failed: {done.stderr}"


def _connections(uri: str) -> int:
    database = uri.rsplit("/", 1)[1]
    engine = create_engine(uri.rsplit("/", 1)[0] + "/postgres")
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(
                    text("SELECT count(*) FROM pg_stat_activity WHERE datname = :d"),
                    {"d": database},
                ).scalar_one()
            )
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_postgres_restart_under_load_gives_503_then_recovers(
    make_server: Any, postgres_uri: str, tmp_path: Path
) -> None:
    server = make_server(postgres_uri).start()
    backend = RestBackend(server.url, settings=Settings(http_max_retries=3))
    run_id = backend.create_run("0").info.run_id
    spool_dir = tmp_path / "spool"
    client = spawn_script(
        LOG.format(url=server.url, batches=30, run_id=run_id),
        env=clean_env(
            MLTRAIL_HTTP_MAX_RETRIES="40",
            MLTRAIL_SPOOL_DIR=str(spool_dir),
            MLTRAIL_FLUSH_TIMEOUT="20",
        ),
    )
    try:
        assert client.stdout is not None
        client.stdout.readline()  # logging is under way
        _cluster("stop")
        try:
            started = time.monotonic()
            answer = httpx.get(f"{server.url}/ready", timeout=30)
            assert answer.status_code == 503
            assert time.monotonic() - started < 10  # an answer, not a hang
            refused = httpx.get(f"{server.url}/api/v1/runs/{run_id}", timeout=30)
            assert refused.status_code == 503
            assert refused.json()["error_code"] == "TEMPORARILY_UNAVAILABLE"
        finally:
            _cluster("start")
        _cluster("restart")  # and once more, with the server's pool full of old connections
        out, err = client.communicate(timeout=300)
    finally:
        if client.poll() is None:
            client.kill()
    assert client.returncode == 0, err
    assert out.count("batch") == 29  # the first one was read above
    synced = sync("sync", "--spool-dir", str(spool_dir), env=clean_env())
    assert synced.returncode == 0, synced.stderr
    # Recovered by itself: same server process, every point once.
    assert server.process is not None and server.process.poll() is None
    assert httpx.get(f"{server.url}/ready", timeout=30).status_code == 200
    assert count_points(server.url, run_id, "loss") == 30_000
    backend.close()
    # The pool replaced its dead connections instead of piling up new ones.
    assert _connections(postgres_uri) <= 15
