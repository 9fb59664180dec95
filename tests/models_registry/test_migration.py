"""Revision 0002 creates exactly the tables schema_models declares, on every backend."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

from mltrail.store import schema_models
from mltrail.store.schema import metadata
from mltrail.store.sql.migrate import current_revision

MODEL_TABLES = {
    "logged_models",
    "logged_model_params",
    "logged_model_tags",
    "logged_model_metrics",
    "registered_models",
    "registered_model_tags",
    "model_versions",
    "model_version_tags",
    "registered_model_aliases",
}


def test_models_revision_matches_tables(engine: Engine) -> None:
    assert {t.name for t in schema_models.metadata.sorted_tables} >= MODEL_TABLES
    assert current_revision(engine) is not None
    assert set(inspect(engine).get_table_names()) >= MODEL_TABLES
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = [d for d in compare_metadata(context, metadata) if _mentions(d, MODEL_TABLES)]
    assert diff == []


def _mentions(diff: object, tables: set[str]) -> bool:
    text = repr(diff)
    return any(f"'{t}'" in text or f"{t}." in text for t in tables)
