"""bench/import_bench.py runs end to end at its tiny size (its figures are not checked)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.mlflow
def test_import_bench_smoke(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "MLTRAIL_"))}
    mlflow_python = os.environ.get(
        "MLTRAIL_TEST_MLFLOW_PYTHON", str(REPO / ".venv-mlflow" / "bin" / "python")
    )
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "import_bench.py"),
            "--smoke",
            "--mlflow-python",
            mlflow_python,
            "--work-dir",
            str(tmp_path / "work"),
            "--out-dir",
            str(tmp_path / "results"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ratio (anchor / mltrail import)" in done.stdout
    (result,) = (tmp_path / "results").glob("import-*.json")
    figures = json.loads(result.read_text())
    assert figures["source"]["runs"] == 6
    assert set(figures["mltrail"]) == {"import", "export", "restore"}
    assert figures["anchor"]["runs_in_target"] == 6
