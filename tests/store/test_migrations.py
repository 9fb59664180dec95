"""Schema migrations: empty databases are upgraded, unknown revisions refused, no start-up race."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import inspect, text

from mltrail.errors import SchemaMismatch
from mltrail.store.schema import metadata
from mltrail.store.sql import create_engine_for, open_store
from mltrail.store.sql.migrate import current_revision, ensure_schema, head_revision, upgrade


def test_empty_database_is_upgraded_to_head(db_uri: str) -> None:
    assert upgrade(db_uri) == head_revision()
    engine = create_engine_for(db_uri)
    try:
        assert current_revision(engine) == head_revision()
        tables = set(inspect(engine).get_table_names())
        assert {"experiments", "runs", "params", "tags", "metric_chunks"} <= tables
        assert set(metadata.tables) <= tables
        assert ensure_schema(engine) == head_revision()  # a second call is a no-op
    finally:
        engine.dispose()


def test_unknown_revision_is_refused(db_uri: str) -> None:
    upgrade(db_uri)
    engine = create_engine_for(db_uri)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = 'ffff9999'"))
        with pytest.raises(SchemaMismatch, match="database is at revision ffff9999, newer than"):
            ensure_schema(engine)
        with pytest.raises(SchemaMismatch):
            open_store(db_uri, default_artifact_root="/tmp/a")
        assert current_revision(engine) == "ffff9999"
    finally:
        engine.dispose()


def test_tables_without_revision_are_refused(sqlite_uri: str) -> None:
    engine = create_engine_for(sqlite_uri)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE experiments (id INTEGER)"))
        with pytest.raises(SchemaMismatch, match="no mltrail schema revision"):
            ensure_schema(engine)
    finally:
        engine.dispose()


def test_concurrent_start_up_does_not_race(db_uri: str) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(3)

    def start() -> None:
        try:
            barrier.wait()
            store = open_store(db_uri, default_artifact_root="/tmp/a")
            try:
                assert store.get_experiment("0").name == "Default"
            finally:
                store.close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    engine = create_engine_for(db_uri)
    try:
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()
