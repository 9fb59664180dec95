"""``mltrail db upgrade`` on fresh databases."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from mltrail.cli.main import cli
from mltrail.store.sql.migrate import head_revision

from .conftest import run_module


def _tables(db_file: Path) -> set[str]:
    with sqlite3.connect(db_file) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def test_upgrade_fresh_sqlite_file_then_again(tmp_path: Path) -> None:
    db_file = tmp_path / "team.db"
    uri = f"sqlite:///{db_file}"
    first = CliRunner().invoke(cli, ["db", "upgrade", uri])
    assert first.exit_code == 0, first.stderr
    assert first.stdout == f"Database {uri} is at schema revision {head_revision()}\n"
    assert {"experiments", "runs", "alembic_version"} <= _tables(db_file)

    again = CliRunner().invoke(cli, ["db", "upgrade", uri])
    assert again.exit_code == 0
    assert again.stdout == first.stdout


def test_upgrade_folder_store_in_subprocess(tmp_path: Path) -> None:
    done = run_module(["db", "upgrade", "runs"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "experiments" in _tables(tmp_path / "runs" / "mltrail.db")


@pytest.mark.postgres
def test_upgrade_postgres(postgres_uri: str) -> None:
    result = CliRunner().invoke(cli, ["db", "upgrade", postgres_uri])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.endswith(f"is at schema revision {head_revision()}\n")


@pytest.mark.mysql
def test_upgrade_mariadb_twice(mysql_uri: str) -> None:
    for _ in range(2):
        result = CliRunner().invoke(cli, ["db", "upgrade", mysql_uri])
        assert result.exit_code == 0, result.stderr
        assert result.stdout.endswith(f"is at schema revision {head_revision()}\n")


def test_password_is_not_printed() -> None:
    # Nothing listens on port 1: the command fails, and must not echo the password.
    result = CliRunner().invoke(
        cli, ["db", "upgrade", "postgresql://alice:s3cret@127.0.0.1:1/tracking"]
    )
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ")
    assert "s3cret" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("bogus://x", "Unsupported tracking URI 'bogus://x'"),
        ("http://server:5000", "is a tracking server, not a database"),
        ("sqlite:///{tmp}/missing/dir/x.db", "does not exist"),
        ("sqlite:///:memory:", "in-memory SQLite database"),
    ],
)
def test_bad_uri_is_a_usage_error(tmp_path: Path, uri: str, message: str) -> None:
    result = CliRunner().invoke(cli, ["db", "upgrade", uri.format(tmp=tmp_path)])
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: ")
    assert message in result.stderr
    assert not (tmp_path / "missing").exists()


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    db_file = tmp_path / "future.db"
    uri = f"sqlite:///{db_file}"
    assert CliRunner().invoke(cli, ["db", "upgrade", uri]).exit_code == 0
    with sqlite3.connect(db_file) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")
    result = CliRunner().invoke(cli, ["db", "upgrade", uri])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: database is at revision 9999_from_the_future")
    assert "Traceback" not in result.stderr
