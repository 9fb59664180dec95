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
