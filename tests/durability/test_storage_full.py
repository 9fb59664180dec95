"""Each database's own "no space" error becomes StorageFull (507) in the store's write path.

The faults are real: SQLite past ``max_page_count`` ("database or disk is full"), a MariaDB
MEMORY table past ``max_heap_table_size`` ("The table is full"), and a PostgreSQL tablespace
on a 1 MB tmpfs ("could not extend file", SQLSTATE 53100).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, event, text

from mltrail.errors import StorageFull
from mltrail.store.sql.engine import create_engine_for, read_connection, run_write

ROW = "x" * 20_000


def _fill_until_full(engine: Engine, *, body: Any = ROW) -> StorageFull:
    """Insert rows into ``filler`` through the store's write path until it refuses."""
    for i in range(2000):
        try:
            run_write(
                engine,
                lambda conn, i=i: conn.execute(
                    text("INSERT INTO filler (n, body) VALUES (:n, :b)"),
                    {"n": i, "b": body(i) if callable(body) else body},
                ),
            )
        except StorageFull as exc:
            # The refused write left nothing behind, and reading still works.
            with read_connection(engine) as conn:
                assert conn.execute(text("SELECT COUNT(*) FROM filler")).scalar_one() == i
            assert i > 0
            return exc
    raise AssertionError("the storage never filled up")


def test_sqlite_database_or_disk_is_full(sqlite_uri: str) -> None:
    engine = create_engine_for(sqlite_uri)

    @event.listens_for(engine, "connect")
    def _cap(dbapi_conn: Any, _record: Any) -> None:
        # A database file may not grow past 64 pages: SQLite answers SQLITE_FULL.
        dbapi_conn.execute("PRAGMA max_page_count=64")

    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE filler (n INTEGER PRIMARY KEY, body TEXT)"))
        exc = _fill_until_full(engine)
    finally:
        engine.dispose()
    assert exc.status == 507
    assert "database or disk is full" in exc.message


@pytest.mark.mysql
def test_mariadb_table_is_full(mysql_uri: str) -> None:
    engine = create_engine_for(mysql_uri)
    try:
        with engine.begin() as conn:
            # The MEMORY table's size cap is taken from the session when it is created.
            conn.execute(text("SET SESSION max_heap_table_size = 65536"))
            conn.execute(
                text("CREATE TABLE filler (n INT PRIMARY KEY, body VARCHAR(2000)) ENGINE=MEMORY")
            )
        exc = _fill_until_full(engine, body="y" * 2000)
    finally:
        engine.dispose()
    assert exc.status == 507
    assert "is full" in exc.message


@pytest.fixture
def small_tablespace(postgres_uri: str) -> Iterator[str]:
    """A PostgreSQL tablespace on a 1 MB tmpfs (needs root to mount)."""
    location = f"/tmp/mltrail-ts-{uuid.uuid4().hex[:8]}"
    os.mkdir(location, 0o755)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", location],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        os.rmdir(location)
        pytest.fail(
            "This test needs to mount a small tmpfs (run it as root, or in a container with "
            f"CAP_SYS_ADMIN): mount said {done.stderr.strip()!r}"
        )
    shutil.chown(location, "postgres", "postgres")
    name = f"small_{uuid.uuid4().hex[:8]}"
    admin = create_engine_for(postgres_uri).execution_options(isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f"CREATE TABLESPACE {name} LOCATION '{location}'"))
        yield name
    finally:
        with admin.connect() as conn:
            conn.execute(text("DROP TABLE IF EXISTS filler"))
            conn.execute(text(f"DROP TABLESPACE IF EXISTS {name}"))
        admin.dispose()
        subprocess.run(["umount", "-l", location], check=False)
        os.rmdir(location)


@pytest.mark.postgres
def test_postgres_could_not_extend_file(postgres_uri: str, small_tablespace: str) -> None:
    engine = create_engine_for(postgres_uri)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    f"CREATE TABLE filler (n INT PRIMARY KEY, body TEXT) TABLESPACE {small_tablespace}"
                )
            )
            # Store the rows as they are (no compression): each one takes its real size.
            conn.execute(text("ALTER TABLE filler ALTER COLUMN body SET STORAGE EXTERNAL"))
        exc = _fill_until_full(engine, body=lambda i: uuid.uuid4().hex * 600)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar_one() == 1  # the server is fine
    finally:
        engine.dispose()
    assert exc.status == 507
    assert "could not extend file" in exc.message or "No space left" in exc.message


def test_status_507_reaches_the_client_as_storage_full() -> None:
    from mltrail.client.rest_http import error_from_response

    answer = httpx.Response(
        507,
        json={"error_code": "TEMPORARILY_UNAVAILABLE", "message": "disk full"},
        request=httpx.Request("POST", "http://127.0.0.1:1/api/v1/runs/r/batch"),
    )
    error = error_from_response(answer)
    assert type(error) is StorageFull and error.message == "disk full"
