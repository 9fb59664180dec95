"""`mltrail users|tokens|permissions` against a SQLite database, and the server's admin check."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from mltrail.cli.main import cli


def test_users_tokens_permissions_commands(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'm.db'}"
    runner = CliRunner()

    def run(*args: str, code: int = 0, stdin: str | None = None) -> str:
        result = runner.invoke(cli, [*args, "--backend-store-uri", db], input=stdin)
        assert result.exit_code == code, (result.output, result.exception)
        return result.output

    secret = tmp_path / "pw"
    secret.write_text("a-long-password-1\n")
    run("users", "create", "root", "--admin", "--password-file", str(secret))
    run("users", "create", "bob", "--password-file", "-", stdin="bob-password-12345\n")
    assert "short" not in run(
        "users", "create", "eve", "--password-file", "-", stdin="short\n", code=2
    )
    users = json.loads(run("users", "list", "--output", "json"))
    assert [(u["username"], u["is_admin"]) for u in users] == [("bob", False), ("root", True)]
    token = run("tokens", "create", "bob", "--name", "ci").splitlines()[0]
    assert token.startswith("mlt_")
    listed = run("tokens", "list", "bob", "--output", "json")
    assert token not in listed and json.loads(listed)[0]["name"] == "ci"
    run("tokens", "revoke", "bob", "--name", "ci")
    from mltrail.store.sql import open_store

    open_store(db, default_artifact_root=str(tmp_path)).close()  # creates experiment 0
    run("permissions", "grant", "bob", "READ", "--experiment", "0")
    grants = json.loads(run("permissions", "list", "--user", "bob", "--output", "json"))
    assert grants == [
        {"kind": "experiment", "resource": "0", "username": "bob", "permission": "READ"}
    ]
    run("permissions", "revoke", "bob", "--experiment", "0")
    run("permissions", "grant", "bob", "READ", "--experiment", "999", code=1)
    run("users", "delete", "bob", "--yes")


def test_server_refuses_to_start_without_an_admin(tmp_path: Path) -> None:
    from mltrail.config import Settings
    from mltrail.errors import ConfigurationError
    from mltrail.server.app import create_app

    settings = Settings(
        backend_store_uri=f"sqlite:///{tmp_path / 'm.db'}", artifacts_destination=str(tmp_path)
    )
    try:
        create_app(settings)
    except ConfigurationError as exc:
        assert "mltrail users create" in exc.message
    else:
        raise AssertionError("a server without an admin started")
    create_app(settings.with_overrides(admin_password="bootstrap-password-1"))
    create_app(settings)  # the admin now exists
