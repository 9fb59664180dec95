"""Every shell block of the README and docs/ marked runnable runs, so the docs cannot drift.

A block is marked by the line ``<!-- runnable -->`` right before its opening fence
(```` ```bash ````). The blocks of one document run in order, in one fresh folder holding a
copy of ``examples/``, with this repository's virtualenv first on ``PATH``, a fresh
``HOME`` and no ``MLTRAIL_*``/``MLFLOW_*`` setting, as a new user's shell would be.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MARK = "<!-- runnable -->"
DOCUMENTS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def runnable_blocks(text: str, *, name: str) -> list[str]:
    lines = text.splitlines()
    blocks: list[str] = []
    for i, line in enumerate(lines):
        if line.strip() != MARK:
            continue
        fence = i + 1
        if fence >= len(lines) or lines[fence].strip() != "```bash":
            raise ValueError(f"{name}:{i + 1}: {MARK} must be followed by a ```bash block")
        end = next((j for j in range(fence + 1, len(lines)) if lines[j].strip() == "```"), None)
        if end is None:
            raise ValueError(f"{name}:{fence + 1}: the runnable block is never closed")
        blocks.append("\n".join(lines[fence + 1 : end]))
    return blocks


MARKED = {
    doc.relative_to(REPO).as_posix(): blocks
    for doc in DOCUMENTS
    if (blocks := runnable_blocks(doc.read_text(), name=doc.name))
}


def test_the_readme_and_the_quickstart_have_runnable_blocks() -> None:
    assert {"README.md", "docs/quickstart.md"} <= set(MARKED)


def test_a_marker_without_a_shell_block_is_an_error() -> None:
    with pytest.raises(ValueError, match="must be followed by a ```bash block"):
        runnable_blocks(f"{MARK}\n```python\nprint(1)\n```\n", name="x.md")
    with pytest.raises(ValueError, match="never closed"):
        runnable_blocks(f"{MARK}\n```bash\ntrue\n", name="x.md")


@pytest.mark.parametrize("document", sorted(MARKED))
def test_runnable_blocks_run(document: str, tmp_path: Path) -> None:
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    home = tmp_path / "home"
    home.mkdir()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("MLTRAIL_", "MLFLOW_", "VIRTUAL_"))
    }
    env.update(
        HOME=str(home),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        MLTRAIL_SPOOL_DIR=str(tmp_path / "spool"),
    )
    for number, block in enumerate(MARKED[document], start=1):
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", block],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, (
            f"{document}, runnable block {number} exited with {done.returncode}:\n{block}\n"
            f"--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
        )
