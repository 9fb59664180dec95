"""Fixtures of the logged-model and registry tests: a migrated database and an experiment."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from mltrail.store.schema import experiments
from mltrail.store.sql.engine import create_engine_for
from mltrail.store.sql.migrate import ensure_schema


@pytest.fixture
def engine(db_uri: str) -> Iterator[Engine]:
    eng = create_engine_for(db_uri)
    ensure_schema(eng)
    try:
        yield eng
    finally:
        eng.dispose()


@pytest.fixture
def experiment_id(engine: Engine) -> str:
    with engine.begin() as conn:
        result = conn.execute(
            experiments.insert().values(
                name="exp",
                artifact_location="mlflow-artifacts:/1",
                lifecycle_stage="active",
                creation_time=1,
                last_update_time=1,
            )
        )
        key = result.inserted_primary_key
        assert key is not None
        return str(key[0])
