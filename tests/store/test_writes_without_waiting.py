"""Writes that must not wait (the server's event loop): the lock is taken at once or not at
all, nothing is written when it is not, and the WAL is still checkpointed."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, text

from mltrail.store.sql import create_engine_for
from mltrail.store.sql import engine as engine_mod
from mltrail.store.sql.engine import WriteWouldWait, run_write, writes_without_waiting


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'w.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (v TEXT)"))
    yield engine
    engine.dispose()


@contextmanager
def write_lock_held(engine: Engine) -> Iterator[None]:
    """Another process's writer: SQLite's write lock, held until the block ends."""
    other = sqlite3.connect(str(engine.url.database), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        other.execute("COMMIT")
        other.close()


def _insert(value: str) -> object:
    def work(conn: Connection) -> None:
        conn.execute(text("INSERT INTO t (v) VALUES (:v)"), {"v": value})

    return work


def _values(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return [row[0] for row in conn.execute(text("SELECT v FROM t ORDER BY rowid"))]


def test_a_locked_database_raises_at_once_and_writes_nothing(engine: Engine) -> None:
    with write_lock_held(engine):
        started = time.monotonic()
        with writes_without_waiting(), pytest.raises(WriteWouldWait):
            run_write(engine, _insert("a"))  # type: ignore[arg-type]
        assert time.monotonic() - started < 1.0  # the busy timeout is 30 s
    assert _values(engine) == []
    with writes_without_waiting():
        run_write(engine, _insert("b"))  # type: ignore[arg-type]
    assert _values(engine) == ["b"]


def test_only_the_first_write_of_a_block_refuses_to_wait(engine: Engine) -> None:
    """Once one write has committed, the block cannot be run again: later writes wait."""
    with writes_without_waiting():
        run_write(engine, _insert("first"))  # type: ignore[arg-type]
        other = sqlite3.connect(
            str(engine.url.database), isolation_level=None, check_same_thread=False
        )
        other.execute("BEGIN IMMEDIATE")
        release = threading.Timer(0.3, lambda: (other.execute("COMMIT"), other.close()))
        release.start()
        run_write(engine, _insert("second"))  # type: ignore[arg-type]
        release.join()
    assert _values(engine) == ["first", "second"]


def test_the_wal_is_checkpointed_in_the_background(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The connections that must not wait never checkpoint themselves (a checkpoint flushes
    the disk); every CHECKPOINT_EVERY commits a thread does it."""
    monkeypatch.setattr(engine_mod, "CHECKPOINT_EVERY", 4)
    main_file = Path(str(engine.url.database))
    before = main_file.stat().st_size
    for i in range(3):
        with writes_without_waiting():
            run_write(engine, _insert("x" * 20_000 + str(i)))  # type: ignore[arg-type]
    # Everything is in the WAL; the database file has not grown.
    assert main_file.stat().st_size == before
    assert len(_values(engine)) == 3
    with writes_without_waiting():
        run_write(engine, _insert("last"))  # type: ignore[arg-type]
    deadline = time.monotonic() + 10
    while main_file.stat().st_size == before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert main_file.stat().st_size > before + 60_000


def test_other_databases_and_memory_are_unaffected(engine: Engine) -> None:
    memory = create_engine_for("sqlite://")
    try:
        with memory.begin() as conn:
            conn.execute(text("CREATE TABLE t (v TEXT)"))
        with writes_without_waiting():
            run_write(memory, _insert("m"))  # type: ignore[arg-type]
        assert _values(memory) == ["m"]
    finally:
        memory.dispose()
