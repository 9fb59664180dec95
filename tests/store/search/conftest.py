"""One database per backend per test module, for the read-only search tests.

The search tests only read, so each module fills its database once; these fixtures
mirror ``sqlite_uri`` / ``postgres_uri`` / ``mysql_uri`` of tests/conftest.py with
module scope.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from mltrail.store import schema

PG_ADMIN_URI = os.environ.get(
    "MLTRAIL_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
MYSQL_ADMIN_URI = os.environ.get("MLTRAIL_TEST_MYSQL", "mysql+pymysql://root@127.0.0.1:3306/")


def _admin_execute(admin_uri: str, statement: str) -> None:
    engine = sa.create_engine(admin_uri, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(statement))
    finally:
        engine.dispose()


def _module_database(backend: str, tmp_dir: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp_dir / 'search.db'}"
        return
    name = f"mltrail_test_{uuid.uuid4().hex[:12]}"
    if backend == "postgres":
        _admin_execute(PG_ADMIN_URI, f'CREATE DATABASE "{name}"')
        try:
            yield PG_ADMIN_URI.rsplit("/", 1)[0] + f"/{name}"
        finally:
            _admin_execute(PG_ADMIN_URI, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        return
    _admin_execute(MYSQL_ADMIN_URI, f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    try:
        yield MYSQL_ADMIN_URI.rstrip("/") + f"/{name}?charset=utf8mb4"
    finally:
        _admin_execute(MYSQL_ADMIN_URI, f"DROP DATABASE IF EXISTS `{name}`")


@pytest.fixture(
    scope="module",
    params=[
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("mysql", marks=pytest.mark.mysql),
    ],
)
def module_engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[sa.Engine]:
    """An engine on a fresh database with the mltrail schema, shared by one module."""
    databases = _module_database(str(request.param), tmp_path_factory.mktemp("search"))
    uri = next(databases)
    engine = sa.create_engine(uri)
    try:
        schema.metadata.create_all(engine)
        yield engine
    finally:
        engine.dispose()
        databases.close()
