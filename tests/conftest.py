"""Shared fixtures: a clean environment for every test, fresh databases on SQLite,
PostgreSQL and MariaDB, and in-process servers.

Each test that asks for ``db_uri`` gets a database of its own, created for it
and dropped afterwards. PostgreSQL and MariaDB are the machine's own servers
(``.ci/run`` starts them when they are down).

Every test runs without the outer shell's ``MLTRAIL_*``/``MLFLOW_*`` variables, with its
spool folder under its ``tmp_path``, and with ``HOME`` pointing at a folder of the test
process: a test that writes ``~/.mltrail`` (a spool or store in the user's home) fails.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.inprocess import InProcessServer, inprocess_server

PG_ADMIN_URI = os.environ.get(
    "MLTRAIL_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
MYSQL_ADMIN_URI = os.environ.get("MLTRAIL_TEST_MYSQL", "mysql+pymysql://root@127.0.0.1:3306/")


# Settings of the test harness itself (make test passes them): kept for every test.
HARNESS_VARIABLES = ("MLTRAIL_TEST_",)


def pytest_configure(config: pytest.Config) -> None:
    # One home per test process (each xdist worker has its own), so that no test can reach
    # the real ~/.mltrail, and a test that writes there is caught by _clean_environment.
    home = tempfile.mkdtemp(prefix="mltrail-test-home-")
    config.stash[_HOME] = home
    os.environ["HOME"] = home


def pytest_unconfigure(config: pytest.Config) -> None:
    home = config.stash.get(_HOME, None)
    if home:
        shutil.rmtree(home, ignore_errors=True)


_HOME = pytest.StashKey[str]()


@pytest.fixture(autouse=True)
def _clean_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith(("MLTRAIL_", "MLFLOW_")) and not name.startswith(HARNESS_VARIABLES):
            monkeypatch.delenv(name)
    monkeypatch.setenv("MLTRAIL_SPOOL_DIR", str(tmp_path / "spool"))
    yield
    touched = Path(os.environ["HOME"]) / ".mltrail"
    if touched.exists():
        shutil.rmtree(touched, ignore_errors=True)
        pytest.fail("The test wrote ~/.mltrail: give it a folder under tmp_path instead")


@pytest.fixture
def app_server(tmp_path: Path) -> Iterator[Callable[..., InProcessServer]]:
    """Start in-process servers: ``app_server(no_auth=False, ...)`` takes Settings fields.

    The default is ``mltrail server --no-auth`` over a folder store in ``tmp_path``; the
    returned server's ``url`` works as a tracking URI for every mltrail client.
    """
    from mltrail.config import Settings

    with contextlib.ExitStack() as stack:

        def start(**overrides: Any) -> InProcessServer:
            fields: dict[str, Any] = {
                "backend_store_uri": str(tmp_path / "server-store"),
                "no_auth": True,
                **overrides,
            }
            return stack.enter_context(inprocess_server(Settings(**fields)))

        yield start


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
