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
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from harness import databases
from harness.inprocess import InProcessServer, inprocess_server

PG_ADMIN_URI = databases.PG_ADMIN_URI
MYSQL_ADMIN_URI = databases.MYSQL_ADMIN_URI


# Settings of the test harness itself (make test passes them): kept for every test.
HARNESS_VARIABLES = ("MLTRAIL_TEST_",)


def pytest_configure(config: pytest.Config) -> None:
    # One home per test process (each xdist worker has its own), so that no test can reach
    # the real ~/.mltrail, and a test that writes there is caught by _clean_environment.
    home = tempfile.mkdtemp(prefix="mltrail-test-home-")
    config.stash[_HOME] = home
    os.environ["HOME"] = home
    # Passwords hash at argon2id's lowest cost in the tests' own process (the servers they
    # start as processes keep the real cost): at 0.2 s per hash and per first login, the
    # in-process auth tests spent most of their time there.
    from mltrail.service import auth

    auth.ARGON2_OPTIONS.update(time_cost=1, memory_cost=8, parallelism=1)


def pytest_unconfigure(config: pytest.Config) -> None:
    home = config.stash.get(_HOME, None)
    if home:
        shutil.rmtree(home, ignore_errors=True)


_HOME = pytest.StashKey[str]()
# Every test has 120 s (pyproject.toml); these kinds have more on a loaded 2-core machine:
# tests marked slow (many server restarts, gigabytes) and scripts of the real mlflow client
# (each starts an interpreter that imports mlflow). An explicit timeout marker wins.
_LONGER_TIMEOUTS = {"slow": 900, "mlflow": 300}


# make test runs on both cores (pytest-xdist, --dist loadgroup). Tests of one group run on one
# worker, one after another: those sharing a session's server and browser (ui) or emulators
# (cloud) start them once, and the tmpfs mounts of the disk-full tests stay apart.
_XDIST_GROUPS = {
    "ui/": "ui",
    "cloud/": "cloud",
    "durability/test_disk_full.py": "tmpfs",
    "durability/test_storage_full.py": "tmpfs",
}
_TESTS_DIR = Path(__file__).resolve().parent


def _xdist_group(item: pytest.Item) -> str | None:
    relative = item.path.resolve().relative_to(_TESTS_DIR).as_posix()
    for prefix, group in _XDIST_GROUPS.items():
        if relative.startswith(prefix):
            return group
    return None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        group = _xdist_group(item)
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))
        if item.get_closest_marker("timeout") is not None:
            continue
        for marker, seconds in _LONGER_TIMEOUTS.items():
            if item.get_closest_marker(marker) is not None:
                item.add_marker(pytest.mark.timeout(seconds))
                break


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


@pytest.fixture(autouse=True)
def _close_what_the_test_opened(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every httpx client opened during a test is closed when the test ends, and so are the
    pipes of every process it started that has exited.

    Left open, they go to the garbage collector, whose ResourceWarning then fails whichever
    later test happens to run the collection. What wider-scoped fixtures open is made before
    this fixture starts and is left alone; a process still running is left to its owner.
    """
    import httpx

    clients: list[httpx.Client] = []
    processes: list[subprocess.Popen[Any]] = []
    client_init = httpx.Client.__init__
    popen_init = subprocess.Popen.__init__

    def recording_client_init(self: httpx.Client, *args: Any, **kwargs: Any) -> None:
        client_init(self, *args, **kwargs)
        clients.append(self)

    def recording_popen_init(self: subprocess.Popen[Any], *args: Any, **kwargs: Any) -> None:
        popen_init(self, *args, **kwargs)
        processes.append(self)

    monkeypatch.setattr(httpx.Client, "__init__", recording_client_init)
    monkeypatch.setattr(subprocess.Popen, "__init__", recording_popen_init)
    yield
    for client in clients:
        client.close()
    for process in processes:
        if process.poll() is not None:
            for pipe in (process.stdin, process.stdout, process.stderr):
                if pipe is not None:
                    pipe.close()


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


@pytest.fixture
def sqlite_uri(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'mltrail.db'}"


@pytest.fixture
def postgres_uri() -> Iterator[str]:
    """A fresh, empty PostgreSQL database, dropped after the test."""
    name = databases.new_name()
    try:
        yield databases.create_postgres(name, migrated=False)
    finally:
        databases.drop_postgres(name)


@pytest.fixture
def mysql_uri() -> Iterator[str]:
    """A fresh, empty MariaDB database, dropped after the test."""
    name = databases.new_name()
    try:
        yield databases.create_mysql(name, migrated=False)
    finally:
        databases.drop_mysql(name)


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


@pytest.fixture
def migrated_sqlite_uri(tmp_path: Path) -> str:
    return databases.copy_migrated_sqlite(tmp_path / "mltrail.db")


@pytest.fixture
def migrated_postgres_uri() -> Iterator[str]:
    """A fresh PostgreSQL database at the migration head (a copy of a template)."""
    name = databases.new_name()
    try:
        yield databases.create_postgres(name, migrated=True)
    finally:
        databases.drop_postgres(name)


@pytest.fixture
def migrated_mysql_uri() -> Iterator[str]:
    """A fresh MariaDB database at the migration head (tables recreated from a template)."""
    name = databases.new_name()
    try:
        yield databases.create_mysql(name, migrated=True)
    finally:
        databases.drop_mysql(name)


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("mysql", marks=pytest.mark.mysql),
    ]
)
def migrated_db_uri(request: pytest.FixtureRequest) -> str:
    """A fresh database at the migration head on each of the three backends: for tests of
    what runs on a schema, not of how the schema is made."""
    return str(request.getfixturevalue(f"migrated_{request.param}_uri"))
