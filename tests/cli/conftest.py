"""Fixtures for the CLI tests: a fresh folder store and a way to run commands on it."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from harness.servers import clean_env
from mltrail.cli.main import cli

REPO = Path(__file__).resolve().parents[2]

Invoke = Callable[..., Result]


@pytest.fixture
def store(tmp_path: Path) -> str:
    """A folder store that does not exist yet (the first command creates it)."""
    return str(tmp_path / "store")


@pytest.fixture
def invoke(store: str) -> Invoke:
    """Run ``mltrail --tracking-uri <store> ARGS`` in-process; returns click's Result."""
    runner = CliRunner()

    def run(*args: str, expect: int | None = 0) -> Result:
        result = runner.invoke(cli, ["--tracking-uri", store, *args], catch_exceptions=True)
        # An exception that escaped the CLI (click would print a traceback) is a bug.
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        if expect is not None:
            assert result.exit_code == expect, (result.stdout, result.stderr)
        return result

    return run


def parse_json(result: Result) -> Any:
    return json.loads(result.stdout)


def run_module(
    args: Sequence[str], *, cwd: Path, module: str = "mltrail", timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``python -m <module> ARGS`` in a child process, as a user would run it."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=cwd,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
