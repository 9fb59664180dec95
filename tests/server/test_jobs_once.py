"""Jobs that run once across server processes: the database-wide job lock on SQLite,
PostgreSQL and MariaDB, gc refusing to run twice, and the start-up cleanup of interrupted
uploads done by one of several workers."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.databases import MYSQL_ADMIN_URI, admin_execute
from mltrail.cli.main import cli
from mltrail.store.sql import open_store
from mltrail.store.sql.engine import create_engine_for
from mltrail.store.sql.locks import job_lock

from .conftest import LiveServer


def test_one_holder_at_a_time_and_names_are_separate(db_uri: str) -> None:
    open_store(db_uri, default_artifact_root="/tmp/x").close()
    first, second = create_engine_for(db_uri), create_engine_for(db_uri)
    try:
        with job_lock(first, "gc") as mine:
            assert mine
            with job_lock(second, "gc") as theirs:
                assert not theirs
            with job_lock(second, "stale-uploads") as other_job:
                assert other_job
        with job_lock(second, "gc") as now_theirs:
            assert now_theirs
    finally:
        first.dispose()
        second.dispose()


HOLD = """
import sys, time
from mltrail.store.sql.engine import create_engine_for
from mltrail.store.sql.locks import job_lock
engine = create_engine_for(sys.argv[1])
with job_lock(engine, "gc") as mine:
    print("held" if mine else "busy", flush=True)
    time.sleep(120)
"""


def test_the_lock_goes_with_a_killed_process(db_uri: str) -> None:
    open_store(db_uri, default_artifact_root="/tmp/x").close()
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(HOLD), db_uri],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        engine = create_engine_for(db_uri)
        with job_lock(engine, "gc") as mine:
            assert not mine
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
        # The database notices the closed connection on its own schedule: wait for it.
        deadline = time.monotonic() + 30
        got = False
        while not got and time.monotonic() < deadline:
            with job_lock(engine, "gc") as got:
                pass
            time.sleep(0.1)
        assert got
        engine.dispose()
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
        holder.stdout.close()


@pytest.mark.mysql
def test_mysql_lock_names_are_per_database(mysql_uri: str) -> None:

    other = f"mltrail_test_{uuid.uuid4().hex[:12]}"
    admin_execute(MYSQL_ADMIN_URI, f"CREATE DATABASE `{other}` CHARACTER SET utf8mb4")
    try:
        other_uri = MYSQL_ADMIN_URI.rstrip("/") + f"/{other}?charset=utf8mb4"
        a, b = create_engine_for(mysql_uri), create_engine_for(other_uri)
        with job_lock(a, "gc") as first, job_lock(b, "gc") as second:
            assert first and second
        a.dispose()
        b.dispose()
    finally:
        admin_execute(MYSQL_ADMIN_URI, f"DROP DATABASE IF EXISTS `{other}`")


def test_gc_refuses_to_run_beside_another_gc(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        if name.startswith("MLTRAIL_"):
            monkeypatch.delenv(name)
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    store = open_store(uri, default_artifact_root=str(tmp_path / "artifacts"))
    runner = CliRunner()
    args = ["gc", "--backend-store-uri", uri, "--artifacts-destination", str(tmp_path)]
    with job_lock(store.engine, "gc") as mine:
        assert mine
        busy = runner.invoke(cli, args)
        assert busy.exit_code == 1
        assert "Another `mltrail gc` is running on this database" in busy.output
        # A dry run changes nothing: it may look while the other one works.
        assert runner.invoke(cli, [*args, "--dry-run"]).exit_code == 0
    assert runner.invoke(cli, args).exit_code == 0
    store.close()


def _leftover(folder: Path, index: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f".file{index}.bin.part-0123456789abcdef"
    path.write_bytes(b"partial")
    stamp = time.time() - 7200
    os.utime(path, (stamp, stamp))
    return path


def _wait_for(condition: Callable[[], bool], *, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def test_workers_starting_together_clean_up_interrupted_uploads_once(
    server_factory: Callable[..., LiveServer], tmp_path: Path
) -> None:
    destination = tmp_path / "store" / "artifacts"
    leftovers = [_leftover(destination / "1" / f"run{i}" / "artifacts", i) for i in range(6)]
    server = server_factory(args=["--workers", "3"])
    assert _wait_for(lambda: not any(p.exists() for p in leftovers))
    log = server.log
    assert _wait_for(lambda: "Removed 6 interrupted upload(s)" in log())
    time.sleep(1)  # the other workers' answers to the lock
    removals = re.findall(r"Removed \d+ interrupted upload", log())
    assert removals == ["Removed 6 interrupted upload"]
    assert "Could not clean up" not in log()
