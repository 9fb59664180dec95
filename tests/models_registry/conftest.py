"""Fixtures of the logged-model and registry tests.

A migrated database with the real services on it, and a real server driven by the real
mlflow client (the harness of ``tests/mlflow_compat``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from mlflow_compat.conftest import MlflowRunner, Server, mlflow_python, start_server  # noqa: F401
from mltrail.service.logged_models import LoggedModelService
from mltrail.service.registry import RegistryService
from mltrail.service.tracking import TrackingService
from mltrail.store.schema import experiments
from mltrail.store.sql.engine import create_engine_for
from mltrail.store.sql.logged_models import SqlLoggedModelStore
from mltrail.store.sql.migrate import ensure_schema
from mltrail.store.sql.registry import SqlRegistryStore
from mltrail.store.sql.store import SqlTrackingStore


@pytest.fixture
def engine(migrated_db_uri: str) -> Iterator[Engine]:
    eng = create_engine_for(migrated_db_uri)
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


@pytest.fixture
def services(engine: Engine) -> tuple[LoggedModelService, RegistryService, TrackingService]:
    """The real tracking, logged-model and registry services on one database."""
    tracking = TrackingService(
        store=SqlTrackingStore(engine, default_artifact_root="mlflow-artifacts:/")
    )
    logged = LoggedModelService(store=SqlLoggedModelStore(engine), tracking=tracking)
    registry = RegistryService(
        store=SqlRegistryStore(engine), tracking=tracking, logged_models=logged
    )
    return logged, registry, tracking


# The real mlflow client against a real server: the harness of the compatibility suite.
@pytest.fixture
def mlflow_server(tmp_path: Path) -> Iterator[Server]:
    yield from start_server(tmp_path)


@pytest.fixture
def run_mlflow(
    mlflow_python: Path,  # noqa: F811  (the fixture imported above)
    mlflow_server: Server,
    tmp_path: Path,
) -> MlflowRunner:
    workdir = tmp_path / "client"
    workdir.mkdir()
    return MlflowRunner(python=mlflow_python, server=mlflow_server, workdir=workdir)
