"""Several servers starting at once on one database; a database newer than the code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from mltrail.store.sql.migrate import head_revision

from .conftest import clean_env


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_servers_starting_at_once_migrate_an_empty_database_once(
    make_server: Any, request: pytest.FixtureRequest, backend: str
) -> None:
    uri = str(request.getfixturevalue(f"{backend}_uri"))
    servers = [make_server(uri) for _ in range(4)]
    # Launch all four before waiting for any: they race for the migration.
    import threading

    errors: list[BaseException] = []

    def start(server: Any) -> None:
        try:
            server.start()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(s,)) for s in servers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    engine = create_engine(uri.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT version_num FROM alembic_version")).all()
    engine.dispose()
    assert [r[0] for r in rows] == [head_revision()]


def test_database_newer_than_the_code_is_refused_with_a_clear_message(
    sqlite_uri: str, tmp_path: Path
) -> None:
    engine = create_engine(sqlite_uri)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)"))
        conn.execute(text("INSERT INTO alembic_version VALUES ('9999_from_the_future')"))
    engine.dispose()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mltrail.cli.main",
            "server",
            "--no-auth",
            "--backend-store-uri",
            sqlite_uri,
            "--port",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=clean_env(),
        cwd=tmp_path,
    )
    assert done.returncode != 0
    assert "newer than this mltrail" in done.stderr + done.stdout
    assert "Traceback" not in done.stderr
