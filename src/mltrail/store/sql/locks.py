"""Database-wide locks for jobs that must run in one process at a time across every server
process and machine sharing a tracking database (stale-upload cleanup at start, ``gc``).

:func:`job_lock` never waits: a process that does not get the lock learns that another one
is doing the job and skips it. The lock goes with the process: if it dies, the database (or
the kernel) releases it.

* PostgreSQL: a session-level advisory lock (``pg_try_advisory_lock``) on a connection held
  for the job's duration.
* MySQL/MariaDB: ``GET_LOCK(name, 0)`` on such a connection.
* SQLite: every process runs on one machine with the database file, so an exclusive
  ``flock`` on a file beside it (``<database>.<name>.lock``). SQLite's own write lock would
  also exclude the job's peers, but held for a whole job it would stall every writer.

(Schema migrations take their own, waiting lock: see :mod:`mltrail.store.sql.migrate`.)
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from sqlalchemy import Connection, Engine, text

# The jobs: removing leftovers of interrupted uploads (at server start, and by gc), and gc.
STALE_UPLOADS_JOB = "stale-uploads"
GC_JOB = "gc"


def lock_key(name: str) -> int:
    """A signed 64-bit advisory-lock key derived from the job name."""
    digest = hashlib.sha256(f"mltrail-job:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def job_lock(engine: Engine, name: str) -> Iterator[bool]:
    """Hold the lock ``name`` for the block; yields False (without waiting) when another
    process holds it."""
    dialect = engine.dialect.name
    if dialect == "sqlite":
        with _file_lock(engine, name) as got:
            yield got
        return
    with engine.connect() as raw:
        conn = raw.execution_options(isolation_level="AUTOCOMMIT")
        got = _try_lock(conn, dialect, name)
        try:
            yield got
        finally:
            if got:
                # A broken connection has released the lock with its session already.
                with suppress(Exception):
                    _unlock(conn, dialect, name)


def _try_lock(conn: Connection, dialect: str, name: str) -> bool:
    if dialect == "postgresql":
        # Advisory locks are per database already.
        found = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": lock_key(name)})
        return bool(found.scalar())
    found = conn.execute(text("SELECT GET_LOCK(:n, 0)"), {"n": _mysql_name(conn, name)})
    return found.scalar() == 1


def _unlock(conn: Connection, dialect: str, name: str) -> None:
    if dialect == "postgresql":
        conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": lock_key(name)})
    else:
        conn.execute(text("SELECT RELEASE_LOCK(:n)"), {"n": _mysql_name(conn, name)})


def _mysql_name(conn: Connection, name: str) -> str:
    # GET_LOCK names are server-wide, not per database, and at most 64 characters.
    database = str(conn.engine.url.database or "")
    tag = hashlib.sha256(database.encode()).hexdigest()[:12]
    return f"mltrail_{tag}_{name}"[:64]


@contextmanager
def _file_lock(engine: Engine, name: str) -> Iterator[bool]:
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        yield True  # a database of this process alone
        return
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on Windows
        yield True
        return
    path = f"{os.path.abspath(database)}.{name}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
