"""Shared fixtures: fresh databases on SQLite, PostgreSQL and MariaDB.

Each test that asks for ``db_uri`` gets a database of its own, created for it
and dropped afterwards. PostgreSQL and MariaDB are the machine's own servers
(``.ci/run`` starts them when they are down).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_ADMIN_URI = os.environ.get(
    "MLTRAIL_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
MYSQL_ADMIN_URI = os.environ.get("MLTRAIL_TEST_MYSQL", "mysql+pymysql://root@127.0.0.1:3306/")


def _admin_execute(admin_uri: str, statement: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(admin_uri, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(statement))
    finally:
        engine.dispose()


@pytest.fixture
def sqlite_uri(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'mltrail.db'}"


@pytest.fixture
def postgres_uri() -> Iterator[str]:
    name = f"mltrail_test_{uuid.uuid4().hex[:12]}"
    _admin_execute(PG_ADMIN_URI, f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN_URI.rsplit("/", 1)[0] + f"/{name}"
    finally:
        _admin_execute(PG_ADMIN_URI, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def mysql_uri() -> Iterator[str]:
    name = f"mltrail_test_{uuid.uuid4().hex[:12]}"
    _admin_execute(MYSQL_ADMIN_URI, f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    try:
        yield MYSQL_ADMIN_URI.rstrip("/") + f"/{name}?charset=utf8mb4"
    finally:
        _admin_execute(MYSQL_ADMIN_URI, f"DROP DATABASE IF EXISTS `{name}`")


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("mysql", marks=pytest.mark.mysql),
    ]
)
def db_uri(request: pytest.FixtureRequest) -> str:
    """A fresh, empty database on each of the three backends."""
    return str(request.getfixturevalue(f"{request.param}_uri"))
