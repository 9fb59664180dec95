"""Engines for the three supported databases, and the write-transaction helper.

SQLite is tuned for many small concurrent writers (WAL, a generous busy
timeout, ``BEGIN IMMEDIATE`` for writes so that a reader never has to upgrade
its lock mid-transaction, which SQLite answers with an immediate "locked").
PostgreSQL goes through psycopg 3 and MySQL/MariaDB through PyMySQL; the plain
``postgresql://`` and ``mysql://`` schemes are accepted and mapped to them.

Writes that must not wait (``writes_without_waiting``): the server runs a small SQLite write
on its event loop instead of handing it to a worker thread, whose round trip costs more CPU
than the write on a 2-vCPU machine (the wake-ups of two threads on two cores). On the event
loop nothing may wait: such a write takes the lock at once or raises ``WriteWouldWait``
(nothing written; the server runs it again in a thread), and its connections leave WAL
checkpoints, which flush the disk, to a background thread.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError

from mltrail.errors import ConfigurationError, MltrailError, StorageFull, TemporarilyUnavailable
from mltrail.store.sql.prepared import execute_sql

T = TypeVar("T")

logger = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 30_000
WRITE_ATTEMPTS = 8
_WRITE_OPTION = "mltrail_write"
# Writes without waiting checkpoint the WAL in the background every this many commits (a
# logging write adds 3-5 pages; SQLite's own automatic checkpoint comes at 1,000 pages).
CHECKPOINT_EVERY = 256

_SCHEME_REWRITES = {
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mariadb+pymysql",
}

# Messages/codes of errors that mean "another transaction got in the way; try again".
_TRANSIENT_MARKERS = (
    "database is locked",
    "database table is locked",
    "deadlock",
    "could not serialize access",
    "lock wait timeout",
    "serialization failure",
)
# PostgreSQL SQLSTATEs (serialization failure, deadlock) and MySQL error numbers
# (lock wait timeout, deadlock, and "SAVEPOINT does not exist": InnoDB rolls the whole
# transaction back on a deadlock inside a savepoint, so the ROLLBACK TO SAVEPOINT that
# follows fails with 1305 instead of the deadlock's own code).
_TRANSIENT_CODES = {"40001", "40P01", "1205", "1213", "1305"}
# Messages of errors that mean "the database cannot be reached".
_UNREACHABLE_MARKERS = (
    "connection refused",
    "could not connect",
    "can't connect",
    "connection timed out",
    "server closed the connection",
    "lost connection",
    "unable to open database file",
    "name or service not known",
    "no route to host",
    "connection is closed",
    "terminating connection",
)
# The disk under the database is full: SQLite (SQLITE_FULL), PostgreSQL ("could not extend
# file", SQLSTATE 53100 disk_full), MySQL/MariaDB (1114 "The table is full", 1021 "Disk full").
_FULL_MARKERS = (
    "database or disk is full",
    "could not extend file",
    "no space left on device",
    "disk full",
)
_FULL_CODES = {"53100", "1114", "1021"}


class RetryableConflict(Exception):
    """Raised inside a write transaction when a concurrent writer won a race (e.g. a
    duplicate insert of the same summary row); ``run_write`` starts over."""


class WriteWouldWait(Exception):
    """A write made under ``writes_without_waiting`` would have waited for another writer:
    nothing was written; run the work again where waiting is harmless."""


_without_waiting: ContextVar[bool] = ContextVar("mltrail_write_without_waiting", default=False)


@contextmanager
def writes_without_waiting() -> Iterator[None]:
    """The first SQLite write inside this block takes the write lock at once or raises
    ``WriteWouldWait``; later writes wait as usual (the first one committed, so the block
    could not simply be run again). Other databases are not affected."""
    token = _without_waiting.set(True)
    try:
        yield
    finally:
        _without_waiting.reset(token)


def normalize_uri(uri: str) -> str:
    """Map the plain scheme names to the drivers mltrail ships with."""
    scheme, sep, rest = uri.partition("://")
    if not sep:
        raise ConfigurationError(
            f"Not a database URI: {uri!r} (expected e.g. sqlite:///mltrail.db)"
        )
    return f"{_SCHEME_REWRITES.get(scheme, scheme)}://{rest}"


def create_engine_for(uri: str) -> Engine:
    """A pooled engine for ``uri`` (sqlite, postgresql, mysql or mariadb)."""
    normalized = normalize_uri(uri)
    try:
        url = make_url(normalized)
    except ArgumentError as exc:
        raise ConfigurationError(f"Not a database URI: {uri!r}") from exc
    backend = url.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(normalized)
    if backend == "postgresql":
        return create_engine(url, pool_pre_ping=True, future=True)
    if backend in ("mysql", "mariadb"):
        if "charset" not in url.query:
            url = url.update_query_dict({"charset": "utf8mb4"})
        return create_engine(url, pool_pre_ping=True, pool_recycle=3600)
    raise ConfigurationError(
        f"Unsupported database {backend!r} in {uri!r}; use sqlite, postgresql or mysql"
    )


def _sqlite_engine(
    uri: str, *, busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS, checkpoints: bool = True
) -> Engine:
    engine = create_engine(uri, connect_args={"timeout": busy_timeout_ms / 1000})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            if not checkpoints:
                cursor.execute("PRAGMA wal_autocheckpoint=0")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get(_WRITE_OPTION)
        execute_sql(conn, "BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def is_transient(exc: BaseException) -> bool:
    """True for lock/deadlock/serialization conflicts that a retry may resolve."""
    if not isinstance(exc, DBAPIError):
        return False
    orig = exc.orig
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    args = getattr(orig, "args", ())
    if code in _TRANSIENT_CODES or (args and str(args[0]) in _TRANSIENT_CODES):
        return True
    text = str(orig).lower()
    return any(marker in text for marker in _TRANSIENT_MARKERS)


def is_unreachable(exc: BaseException) -> bool:
    """True when the error says the database server cannot be reached."""
    if not isinstance(exc, OperationalError | DBAPIError):
        return False
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    text = str(exc.orig).lower()
    return any(marker in text for marker in _UNREACHABLE_MARKERS)


def is_storage_full(exc: BaseException) -> bool:
    """True when the database could not write because its disk (or table space) is full."""
    if not isinstance(exc, DBAPIError):
        return False
    orig = exc.orig
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    args = getattr(orig, "args", ())
    if code in _FULL_CODES or (args and str(args[0]) in _FULL_CODES):
        return True
    text = str(orig).lower()
    return any(marker in text for marker in _FULL_MARKERS)


def storage_full(exc: BaseException) -> StorageFull:
    detail = str(getattr(exc, "orig", None) or exc).splitlines()[0]
    return StorageFull(f"The disk under the tracking database is full: {detail}")


def translate(exc: DBAPIError) -> MltrailError | None:
    """The typed error a database error stands for (None: not one we classify)."""
    if is_storage_full(exc):
        return storage_full(exc)
    if is_unreachable(exc):
        return unavailable(exc)
    return None


def _raise_translated(exc: DBAPIError) -> None:
    """Raise the typed error ``exc`` stands for, when it stands for one."""
    typed = translate(exc)
    if typed is not None:
        raise typed from exc


def unavailable(exc: BaseException) -> TemporarilyUnavailable:
    return TemporarilyUnavailable(
        f"The tracking database is unavailable: {str(exc).splitlines()[0]}"
    )


@contextmanager
def read_connection(engine: Engine) -> Iterator[Connection]:
    """A connection in a read transaction; connection failures become TemporarilyUnavailable."""
    try:
        with engine.connect() as conn, conn.begin():
            yield conn
    except DBAPIError as exc:
        _raise_translated(exc)
        raise


def _writer(engine: Engine) -> Engine:
    """``engine`` with the write option set (same pool and events), made once and kept on
    the engine: setting the option on every connection cost about 15 us per write."""
    writer: Engine | None = engine.__dict__.get("_mltrail_writer")
    if writer is None:
        writer = engine.execution_options(**{_WRITE_OPTION: True})
        engine.__dict__["_mltrail_writer"] = writer
    return writer


class _NoWaitWriter:
    """The SQLite writes made under ``writes_without_waiting``: their own connections, with
    no busy timeout and no automatic checkpoint; a thread checkpoints every
    ``CHECKPOINT_EVERY`` commits."""

    def __init__(self, engine: Engine) -> None:
        self.main = engine
        url = engine.url.render_as_string(hide_password=False)
        self.engine = _sqlite_engine(url, busy_timeout_ms=0, checkpoints=False).execution_options(
            **{_WRITE_OPTION: True}
        )
        self.commits = 0
        self.checkpointing = threading.Lock()
        event.listen(engine, "engine_disposed", lambda _engine: self.engine.dispose())

    def write(self, work: Callable[[Connection], T]) -> T:
        try:
            with self.engine.connect() as conn, conn.begin():
                result = work(conn)
        except RetryableConflict:
            raise WriteWouldWait() from None
        except DBAPIError as exc:
            if is_transient(exc):
                raise WriteWouldWait() from None
            _raise_translated(exc)
            raise
        self.commits += 1
        if self.commits % CHECKPOINT_EVERY == 0 and self.checkpointing.acquire(blocking=False):
            threading.Thread(
                target=self._checkpoint, name="mltrail-checkpoint", daemon=True
            ).start()
        return result

    def _checkpoint(self) -> None:
        try:
            # On a connection of the main engine: it waits for the lock as long as it must.
            raw = self.main.raw_connection()
            try:
                raw.cursor().execute("PRAGMA wal_checkpoint(PASSIVE)")
            finally:
                raw.close()
        except Exception as exc:  # the next checkpoint, or SQLite's own, catches up
            logger.warning("WAL checkpoint failed: %s", exc)
        finally:
            self.checkpointing.release()


def _no_wait_writer(engine: Engine) -> _NoWaitWriter | None:
    """The engine's writer without waiting; None for an in-memory database, which a second
    engine would not share."""
    if "_mltrail_no_wait" not in engine.__dict__:
        database = engine.url.database
        in_file = bool(database) and database != ":memory:" and "mode=memory" not in str(engine.url)
        engine.__dict__["_mltrail_no_wait"] = _NoWaitWriter(engine) if in_file else None
    writer: _NoWaitWriter | None = engine.__dict__["_mltrail_no_wait"]
    return writer


def run_write(engine: Engine, work: Callable[[Connection], T]) -> T:
    """Run ``work`` in one write transaction, retrying lock conflicts with backoff.

    ``work`` must be safe to re-run from the start: everything it did in a failed
    attempt was rolled back.
    """
    if _without_waiting.get() and engine.dialect.name == "sqlite":
        _without_waiting.set(False)
        at_once = _no_wait_writer(engine)
        if at_once is not None:
            return at_once.write(work)
    delay = 0.02
    writer = _writer(engine)
    for attempt in range(WRITE_ATTEMPTS):
        try:
            with writer.connect() as conn, conn.begin():
                return work(conn)
        except RetryableConflict:
            if attempt == WRITE_ATTEMPTS - 1:
                raise TemporarilyUnavailable(
                    "Concurrent writes kept conflicting; try again"
                ) from None
        except DBAPIError as exc:
            _raise_translated(exc)
            if not is_transient(exc) or attempt == WRITE_ATTEMPTS - 1:
                if is_transient(exc):
                    raise TemporarilyUnavailable(
                        "The tracking database is busy; try again later"
                    ) from exc
                raise
        time.sleep(delay * (1 + random.random()))
        delay = min(delay * 2, 1.0)
    raise AssertionError("unreachable")  # pragma: no cover
