"""Schema migrations of the tracking database (Alembic, configured in code).

Policy: :func:`ensure_schema` brings an empty database to the newest revision
and also upgrades a database at an older revision known to this mltrail (the
server must be able to start after an upgrade of the package without a manual
step; ``mltrail db upgrade URI`` does the same thing explicitly). A database at a
revision this code does not know (a newer mltrail, or another tool's schema),
or one holding tables but no revision, is refused with
:class:`mltrail.errors.SchemaMismatch` and left untouched.

Several processes may start at once on one database; the migration runs under
a database-wide lock (PostgreSQL advisory lock, MySQL ``GET_LOCK``, SQLite's
write lock taken by ``BEGIN IMMEDIATE``) and the revision is re-read after the
lock is taken, so exactly one of them migrates and the others see the result.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.exc import SQLAlchemyError

from mltrail.errors import SchemaMismatch, TemporarilyUnavailable
from mltrail.store.sql.engine import create_engine_for

if TYPE_CHECKING:
    from alembic.config import Config

# Alembic is imported only to migrate: at every server start the schema is usually
# current, and a plain SELECT of the revision is enough to know it (saves ~0.3 s).

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent.parent / "migrations"
VERSION_TABLE = "alembic_version"
_LOCK_NAME = "mltrail_schema_migration"
_PG_LOCK_KEY = 0x6D6C7472  # "mltr"
_MYSQL_LOCK_TIMEOUT_S = 300


def alembic_config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


_REVISION_LINE = re.compile(r"^(down_revision|revision)\s*(?::[^=]*)?=\s*(.*)$", re.M)
_QUOTED = re.compile(r"[\"']([^\"']+)[\"']")


@lru_cache(maxsize=1)
def head_revision() -> str:
    """The newest revision, read from the revision files without importing Alembic.

    Falls back to Alembic when the files do not name exactly one head plainly.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        text_ = path.read_text()
        found: dict[str, str] = {m[1]: m[2] for m in _REVISION_LINE.finditer(text_)}
        names = _QUOTED.findall(found.get("revision", ""))
        if len(names) != 1:
            return _alembic_head()
        revisions.add(names[0])
        parents.update(_QUOTED.findall(found.get("down_revision", "")))
    heads = revisions - parents
    if len(heads) != 1:
        return _alembic_head()
    return heads.pop()


@lru_cache(maxsize=1)
def known_revisions() -> frozenset[str]:
    """Every revision this mltrail ships (read from the revision files, as above)."""
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(alembic_config())
    return frozenset(script.revision for script in scripts.walk_revisions())


def schema_state(revision: str | None) -> str:
    """How a database at ``revision`` relates to this code: ``current``, ``older`` (a
    revision this code upgrades from), ``newer`` (unknown here: written by a newer mltrail)
    or ``empty``."""
    if revision is None:
        return "empty"
    if revision == head_revision():
        return "current"
    return "older" if revision in known_revisions() else "newer"


def _alembic_head() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine_or_conn: Engine | Connection) -> str | None:
    """The revision the database is at, or None when it has never been migrated."""
    if isinstance(engine_or_conn, Engine):
        with engine_or_conn.connect() as conn:
            return _current(conn)
    return _current(engine_or_conn)


def _current(conn: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(
        conn, opts={"version_table": VERSION_TABLE}
    ).get_current_revision()


def _plain_current(engine: Engine) -> str | None:
    """The revision by a plain SELECT; None when unknown (no table, several rows, ...)."""
    try:
        with engine.connect() as conn:
            rows = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).all()
    except SQLAlchemyError:
        return None
    return str(rows[0][0]) if len(rows) == 1 else None


def _check_known(conn: Connection, revision: str | None) -> None:
    head = head_revision()
    if revision is None:
        existing = set(inspect(conn).get_table_names())
        if existing & {"experiments", "runs"}:
            raise SchemaMismatch(
                "The database holds tracking tables but no mltrail schema revision; "
                "refusing to touch it (is it another tool's database?)"
            )
        return
    from alembic.script import ScriptDirectory
    from alembic.util.exc import CommandError

    try:
        known = ScriptDirectory.from_config(alembic_config()).get_revision(revision)
    except CommandError:
        known = None
    if known is None:
        raise SchemaMismatch(
            f"database is at revision {revision}, newer than this mltrail (head {head}); "
            "upgrade mltrail"
        )


def ensure_schema(engine: Engine) -> str:
    """Create or upgrade the schema to head (see the module docstring); returns the revision."""
    head = head_revision()
    try:
        if _plain_current(engine) == head:
            return head
        with _migration_lock(engine) as conn:
            revision = _current(conn)
            if revision != head:
                from alembic import command

                _check_known(conn, revision)
                command.upgrade(alembic_config(conn), "head")
        return head
    except SchemaMismatch:
        raise
    except Exception as exc:
        from mltrail.store.sql.engine import is_unreachable, unavailable

        if is_unreachable(exc):
            raise unavailable(exc) from exc
        raise


def upgrade(uri: str) -> str:
    """Migrate the database at ``uri`` to the newest revision (``mltrail db upgrade``)."""
    engine = create_engine_for(uri)
    try:
        return ensure_schema(engine)
    finally:
        engine.dispose()


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[Connection]:
    dialect = engine.dialect.name
    with engine.connect() as conn:
        if dialect == "sqlite":
            conn.execution_options(mltrail_write=True)
            with conn.begin():
                yield conn
        elif dialect == "postgresql":
            with conn.begin():
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
                yield conn
        elif dialect in ("mysql", "mariadb"):
            got = conn.execute(
                text("SELECT GET_LOCK(:n, :t)"), {"n": _LOCK_NAME, "t": _MYSQL_LOCK_TIMEOUT_S}
            ).scalar()
            conn.commit()
            if got != 1:
                raise TemporarilyUnavailable("Timed out waiting for another schema migration")
            try:
                with conn.begin():
                    yield conn
            finally:
                conn.execute(text("SELECT RELEASE_LOCK(:n)"), {"n": _LOCK_NAME})
                conn.commit()
        else:  # pragma: no cover - create_engine_for refuses other databases
            with conn.begin():
                yield conn
