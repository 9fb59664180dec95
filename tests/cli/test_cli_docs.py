"""docs/cli.md is what docs/gen_cli.py renders from the current commands."""

from __future__ import annotations

import subprocess
import sys

from .conftest import REPO, clean_env


def test_committed_cli_reference_is_current() -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "docs" / "gen_cli.py"), "--check"],
        cwd=REPO,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_reference_covers_every_command() -> None:
    text = (REPO / "docs" / "cli.md").read_text()
    for command in (
        "mltrail experiments list",
        "mltrail experiments create",
        "mltrail experiments delete",
        "mltrail experiments restore",
        "mltrail runs list",
        "mltrail runs show",
        "mltrail runs delete",
        "mltrail runs restore",
        "mltrail db upgrade",
    ):
        assert f"`{command}`" in text, command


def test_api_reference_names_every_public_name() -> None:
    """docs/api.md (python docs/gen_api.py) covers all of ``mltrail.__all__``."""
    import mltrail

    text = (REPO / "docs" / "api.md").read_text()
    missing = [
        name
        for name in mltrail.__all__
        if not name.startswith("_") and f"`mltrail.{name}" not in text
    ]
    assert missing == [], "regenerate docs/api.md with python docs/gen_api.py"
