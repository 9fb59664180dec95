"""Fresh databases for tests, empty or already migrated to the schema head.

Migrating a PostgreSQL or MariaDB database takes seconds; copying a migrated one takes a
fraction of that. So a migrated database is a copy of a template migrated once per
migration head (its name holds the head, so a new revision builds a new template):

- PostgreSQL: ``CREATE DATABASE new TEMPLATE mltrail_tpl_<head>``.
- MariaDB has no templates: the tables are recreated from ``SHOW CREATE TABLE`` of the
  migrated template schema, and the ``alembic_version`` row is copied.
- SQLite: the migrated file is copied.

Parallel workers (pytest-xdist) build a template under a server-side lock (an advisory
lock, ``GET_LOCK``, or a lock file), and a template counts only once its
``alembic_version`` row names the head, so a build that died halfway is rebuilt.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, create_engine, text

PG_ADMIN_URI = os.environ.get(
    "MLTRAIL_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
MYSQL_ADMIN_URI = os.environ.get("MLTRAIL_TEST_MYSQL", "mysql+pymysql://root@127.0.0.1:3306/")
# Any fixed number: the key of the PostgreSQL advisory lock that serialises template builds.
_PG_LOCK_KEY = 0x6D6C7472
_TEMPLATE_PREFIX = "mltrail_tpl_"


def _head() -> str:
    from mltrail.store.sql.migrate import head_revision

    return head_revision()


def template_name() -> str:
    return (_TEMPLATE_PREFIX + re.sub(r"[^a-z0-9_]", "_", _head().lower()))[:63]


def new_name() -> str:
    return f"mltrail_test_{uuid.uuid4().hex[:12]}"


def pg_uri(name: str) -> str:
    return PG_ADMIN_URI.rsplit("/", 1)[0] + f"/{name}"


def mysql_uri(name: str) -> str:
    return MYSQL_ADMIN_URI.rstrip("/") + f"/{name}?charset=utf8mb4"


@contextmanager
def _admin(admin_uri: str) -> Iterator[Connection]:
    engine = create_engine(admin_uri, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


def admin_execute(admin_uri: str, statement: str) -> None:
    with _admin(admin_uri) as conn:
        conn.execute(text(statement))


def _migrate(uri: str) -> None:
    from mltrail.store.sql.migrate import upgrade

    upgrade(uri)


def _version_of(uri: str) -> str | None:
    engine = create_engine(uri)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except Exception:
        return None
    finally:
        engine.dispose()


# -- PostgreSQL -------------------------------------------------------------------------------
def _pg_ensure_template(conn: Connection) -> str:
    template = template_name()
    conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _PG_LOCK_KEY})
    try:
        exists = conn.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": template}
        ).scalar()
        if exists and _version_of(pg_uri(template)) == _head():
            return template
        old = conn.execute(
            text("SELECT datname FROM pg_database WHERE datname LIKE :prefix"),
            {"prefix": _TEMPLATE_PREFIX + "%"},
        ).scalars()
        for name in list(old):
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{template}"'))
        _migrate(pg_uri(template))
        return template
    finally:
        conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _PG_LOCK_KEY})


def create_postgres(name: str, *, migrated: bool) -> str:
    with _admin(PG_ADMIN_URI) as conn:
        if migrated:
            template = _pg_ensure_template(conn)
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
        else:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    return pg_uri(name)


def drop_postgres(name: str) -> None:
    admin_execute(PG_ADMIN_URI, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# -- MariaDB ----------------------------------------------------------------------------------
def _mysql_ensure_template(conn: Connection) -> list[tuple[str, str]]:
    """(table, CREATE TABLE statement) of each table of the template."""
    template = template_name()
    locked = conn.execute(text("SELECT GET_LOCK('mltrail_template', 300)")).scalar()
    if locked != 1:
        raise RuntimeError("could not lock the MariaDB template for 300 s")
    try:
        if _version_of(mysql_uri(template)) != _head():
            old = conn.execute(
                text(
                    "SELECT schema_name FROM information_schema.schemata "
                    "WHERE schema_name LIKE :prefix"
                ),
                {"prefix": _TEMPLATE_PREFIX + "%"},
            ).scalars()
            for schema in list(old):
                conn.execute(text(f"DROP DATABASE IF EXISTS `{schema}`"))
            conn.execute(text(f"CREATE DATABASE `{template}` CHARACTER SET utf8mb4"))
            _migrate(mysql_uri(template))
        tables = conn.execute(
            text(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = :s "
                "AND table_type = 'BASE TABLE' ORDER BY table_name"
            ),
            {"s": template},
        ).scalars()
        return [
            (table, str(conn.execute(text(f"SHOW CREATE TABLE `{template}`.`{table}`")).one()[1]))
            for table in list(tables)
        ]
    finally:
        conn.execute(text("SELECT RELEASE_LOCK('mltrail_template')"))


def create_mysql(name: str, *, migrated: bool) -> str:
    with _admin(MYSQL_ADMIN_URI) as conn:
        statements = _mysql_ensure_template(conn) if migrated else []
        conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
        if statements:
            conn.execute(text(f"USE `{name}`"))
            # Tables come in name order: foreign keys are checked once all exist.
            conn.execute(text("SET FOREIGN_KEY_CHECKS = 0"))
            for table, statement in statements:
                # The counter follows the copied rows (as it does in the template).
                conn.execute(text(re.sub(r" AUTO_INCREMENT=\d+", "", statement)))
                conn.execute(
                    text(f"INSERT INTO `{table}` SELECT * FROM `{template_name()}`.`{table}`")
                )
            conn.execute(text("SET FOREIGN_KEY_CHECKS = 1"))
    return mysql_uri(name)


def drop_mysql(name: str) -> None:
    admin_execute(MYSQL_ADMIN_URI, f"DROP DATABASE IF EXISTS `{name}`")


# -- SQLite -----------------------------------------------------------------------------------
def copy_migrated_sqlite(path: Path) -> str:
    """A migrated SQLite file at ``path``, copied from a per-head template file."""
    folder = Path(tempfile.gettempdir()) / "mltrail-test-templates"
    folder.mkdir(exist_ok=True)
    template = folder / f"{template_name()}.db"
    if not template.exists():
        with (folder / "lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not template.exists():
                building = folder / f"{template.name}.{uuid.uuid4().hex}"
                _migrate(f"sqlite:///{building}")
                building.rename(template)
    shutil.copyfile(template, path)
    return f"sqlite:///{path}"
