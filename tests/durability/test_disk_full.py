"""A full disk under the server's database and artifacts (a 1 MB tmpfs)."""

from __future__ import annotations

import os
import re
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mltrail.client.rest import RestBackend
from mltrail.client.spool import spool_files
from mltrail.config import Settings
from mltrail.entities import Metric
from mltrail.errors import MltrailError, StorageFull
from mltrail.wire import columns_of

from .conftest import clean_env, count_points, run_script, sync

TMPFS_SIZE = "1m"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE}", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.fail(
            "This test needs to mount a small tmpfs (run it as root, or in a container with "
            f"CAP_SYS_ADMIN): mount said {done.stderr.strip()!r}"
        )
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def _fill(path: Path, *, keep_free: int) -> None:
    """Write a filler file so that about ``keep_free`` bytes stay free."""
    stat = os.statvfs(path.parent)
    free = stat.f_bavail * stat.f_frsize
    with path.open("wb") as f:
        f.write(b"\0" * max(0, free - keep_free))


CLIENT = """
import mltrail
mltrail.set_tracking_uri({url!r})
for i in range({n}):
    mltrail.log_metric("acc", float(i), step=i, run_id={run_id!r})
"""


def test_full_disk_gives_a_clean_error_no_partial_batch_and_recovers(
    make_server: Any, small_disk: Path, tmp_path: Path
) -> None:
    server = make_server(str(small_disk / "store")).start()
    backend = RestBackend(server.url, settings=Settings(http_max_retries=0))
    run_id = backend.create_run("0").info.run_id
    filler = small_disk / "filler"
    _fill(filler, keep_free=150_000)
    acknowledged = 0
    failed_key = failed_batch = None
    for b in range(200):
        batch = [Metric("loss", float(i), 0, b * 2000 + i) for i in range(2000)]
        key = uuid.uuid4().hex
        try:
            backend.log_batch(run_id, metrics=columns_of(batch), idempotency_key=key)
        except MltrailError as exc:
            # 507 StorageFull (the store's translation of "database or disk is full"),
            # never a 503 that hides the cause, never a 500.
            assert type(exc) is StorageFull, repr(exc)
            assert "disk under the tracking database is full" in exc.message
            failed_key, failed_batch = key, batch
            break
        acknowledged += len(batch)
    assert failed_batch is not None, "the disk never filled up"
    assert "Traceback" not in server.log()
    assert "disk is full" in server.log()
    # The refused batch left nothing behind.
    assert count_points(server.url, run_id, "loss") == acknowledged

    # An artifact that does not fit: a clean error and no partial file.
    big = b"x" * 600_000
    answer = httpx.put(
        f"{server.url}/api/v1/artifacts/0/{run_id}/artifacts/big.bin",
        content=big,
        timeout=30,
    )
    assert answer.status_code == 507, answer.text
    leftovers = [p for p in (small_disk / "store").rglob("*") if p.is_file() and "big" in p.name]
    assert leftovers == []

    # A logging process meets the full disk: 507 is retried, then the points are spooled.
    spool_dir = tmp_path / "spool"
    env = clean_env(
        MLTRAIL_SPOOL_DIR=str(spool_dir), MLTRAIL_HTTP_MAX_RETRIES="2", MLTRAIL_FLUSH_TIMEOUT="3"
    )
    done = run_script(CLIENT.format(url=server.url, n=3000, run_id=run_id), env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    found = re.search(r"(\d+) metric points \(\d+ batches\) were saved", done.stderr)
    assert found is not None, done.stderr
    spooled = int(found.group(1))
    # A first tiny batch may still fit on the disk; everything else waits in the spool.
    assert spooled >= 2000, done.stderr
    assert len(spool_files(spool_dir)) == 1
    assert count_points(server.url, run_id, "acc") == 3000 - spooled

    filler.unlink()
    # The same batch (same key) goes through once space is back, without a restart.
    backend.log_batch(run_id, metrics=columns_of(failed_batch), idempotency_key=failed_key)
    backend.log_batch(run_id, metrics=columns_of(failed_batch), idempotency_key=failed_key)
    assert count_points(server.url, run_id, "loss") == acknowledged + len(failed_batch)
    synced = sync("sync", "--spool-dir", str(spool_dir), env=clean_env())
    assert synced.returncode == 0, synced.stderr
    assert f"Synced {spooled} metric points" in synced.stdout
    assert count_points(server.url, run_id, "acc") == 3000
    assert spool_files(spool_dir) == []
    assert httpx.get(f"{server.url}/health", timeout=10).status_code == 200
    backend.close()
    server.stop()
    import sqlite3

    [db] = list((small_disk / "store").glob("*.db"))
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    conn.close()
