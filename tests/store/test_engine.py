"""Engine set-up: URI schemes, SQLite pragmas, unreachable databases."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from mltrail.errors import ConfigurationError, TemporarilyUnavailable
from mltrail.store.sql import create_engine_for, open_store
from mltrail.store.sql.engine import normalize_uri


def test_plain_schemes_map_to_shipped_drivers() -> None:
    assert normalize_uri("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_uri("mysql://u@h/db") == "mysql+pymysql://u@h/db"
    assert normalize_uri("sqlite:///x.db") == "sqlite:///x.db"
    engine = create_engine_for("mysql://root@127.0.0.1:3306/x")
    assert engine.url.query["charset"] == "utf8mb4"
    engine.dispose()


def test_bad_uris() -> None:
    with pytest.raises(ConfigurationError):
        create_engine_for("not a uri")
    with pytest.raises(ConfigurationError):
        create_engine_for("oracle://u@h/db")


def test_sqlite_pragmas(sqlite_uri: str) -> None:
    engine = create_engine_for(sqlite_uri)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 30_000
            assert conn.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL
    finally:
        engine.dispose()


def test_unreachable_database_is_temporarily_unavailable() -> None:
    with pytest.raises(TemporarilyUnavailable):
        open_store("postgresql://postgres@127.0.0.1:1/none", default_artifact_root="/tmp/a")


@pytest.mark.mysql
def test_lost_savepoint_on_mysql_is_retried(mysql_uri: str) -> None:
    # After a deadlock inside a savepoint InnoDB has rolled the whole transaction back, and
    # the ROLLBACK TO SAVEPOINT that follows fails with 1305; the write must be retried.
    from sqlalchemy.exc import DBAPIError

    from mltrail.store.sql.engine import is_transient

    engine = create_engine_for(mysql_uri)
    try:
        with engine.connect() as conn, conn.begin(), pytest.raises(DBAPIError) as lost:
            conn.exec_driver_sql("ROLLBACK TO SAVEPOINT never_made")
        assert "1305" in str(lost.value.orig.args[0])
        assert is_transient(lost.value)
    finally:
        engine.dispose()
