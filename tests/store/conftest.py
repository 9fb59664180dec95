"""A fresh store (and the service over it) on each database backend."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mltrail.service.tracking import TrackingService
from mltrail.store.sql import SqlTrackingStore, open_store

ARTIFACT_ROOT = "file:///srv/artifacts"


@pytest.fixture
def store(migrated_db_uri: str) -> Iterator[SqlTrackingStore]:
    opened = open_store(migrated_db_uri, default_artifact_root=ARTIFACT_ROOT)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def service(store: SqlTrackingStore) -> TrackingService:
    return TrackingService(store=store)


@pytest.fixture
def run_id(service: TrackingService) -> str:
    exp_id = service.create_experiment("exp")
    return service.create_run(exp_id).info.run_id
