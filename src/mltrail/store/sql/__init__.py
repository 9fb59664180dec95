"""The SQL tracking store (SQLite, PostgreSQL, MySQL/MariaDB)."""

from __future__ import annotations

from mltrail.store.sql.engine import create_engine_for
from mltrail.store.sql.migrate import ensure_schema
from mltrail.store.sql.store import SqlTrackingStore


def open_store(uri: str, *, default_artifact_root: str) -> SqlTrackingStore:
    """Connect, create or upgrade the schema (see ``migrate``), and make sure experiment 0 exists."""
    engine = create_engine_for(uri)
    try:
        ensure_schema(engine)
        store = SqlTrackingStore(engine, default_artifact_root=default_artifact_root)
        store.ensure_default_experiment()
    except BaseException:
        engine.dispose()
        raise
    return store


__all__ = ["SqlTrackingStore", "create_engine_for", "open_store"]
