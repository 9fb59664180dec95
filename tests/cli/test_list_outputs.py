"""Every list command of the accounts takes ``-o json``, as the other list commands do."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from mltrail.cli.main import cli


def test_accounts_lists_print_json(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'mltrail.db'}"
    runner = CliRunner()

    def run(*args: str, stdin: str | None = None) -> str:
        result = runner.invoke(cli, [*args, "--backend-store-uri", db], input=stdin)
        assert result.exit_code == 0, (result.stdout, result.stderr)
        return result.stdout

    run("users", "create", "alice", "--password-file", "-", stdin="alice-password-123\n")
    run("tokens", "create", "alice", "--name", "laptop")
    run("groups", "create", "team")
    users = json.loads(run("users", "list", "-o", "json"))
    assert [u["username"] for u in users] == ["alice"]
    tokens = json.loads(run("tokens", "list", "alice", "-o", "json"))
    assert [t["name"] for t in tokens] == ["laptop"]
    assert [g["name"] for g in json.loads(run("groups", "list", "-o", "json"))] == ["team"]
    assert json.loads(run("permissions", "list", "-o", "json")) == []
