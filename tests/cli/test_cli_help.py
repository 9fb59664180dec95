"""The command tree, its help, and that showing help stays cheap to import."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from mltrail.cli.main import cli

from .conftest import clean_env, run_module

HEAVY = ("sqlalchemy", "pandas", "numpy", "mltrail.store", "mltrail.service")

_PROBE = """
import json, sys
from mltrail.cli.main import cli
try:
    cli(sys.argv[1:], prog_name="mltrail")
except SystemExit as exc:
    code = exc.code
heavy = [m for m in {heavy!r} if m in sys.modules]
print(json.dumps({{"code": code, "heavy": heavy}}))
"""


def _probe(args: list[str], cwd: Path) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE.format(heavy=HEAVY), *args],
        cwd=cwd,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_top_level_help_imports_no_heavy_module(tmp_path: Path) -> None:
    assert _probe(["--help"], tmp_path) == {"code": 0, "heavy": []}


def test_command_help_imports_no_heavy_module(tmp_path: Path) -> None:
    for args in (["runs", "list", "--help"], ["experiments", "--help"], ["db", "upgrade", "-h"]):
        assert _probe(args, tmp_path) == {"code": 0, "heavy": []}, args


def test_help_lists_every_group() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name in ("experiments", "runs", "db"):
        assert name in result.stdout
    runs_help = CliRunner().invoke(cli, ["runs", "--help"])
    for name in ("list", "show", "delete", "restore"):
        assert name in runs_help.stdout


def test_unknown_command_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["nope"])
    assert result.exit_code == 2
    assert "No such command 'nope'" in result.stderr


def test_python_dash_m_entry_points(tmp_path: Path) -> None:
    for module in ("mltrail", "mltrail.cli.main"):
        done = run_module(["--version"], cwd=tmp_path, module=module)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("mltrail, version ")
