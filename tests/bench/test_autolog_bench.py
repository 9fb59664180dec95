"""bench/autolog_bench.py runs end to end in its smoke mode (the figures are not asserted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.mlflow


def test_autolog_bench_smoke(tmp_path: Path) -> None:
    mlflow_python = os.environ.get(
        "MLTRAIL_TEST_MLFLOW_PYTHON", str(REPO / ".venv-mlflow" / "bin" / "python")
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLTRAIL_")}
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "autolog_bench.py"),
            "--smoke",
            "--mlflow-python",
            mlflow_python,
            "--out-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert "MLflow's overhead / mltrail's" in done.stdout
    (result,) = tmp_path.glob("autolog-*.json")
    report = json.loads(result.read_text())
    assert report["reps"] == 2
    assert len(report["mltrail"]["autolog"]) == 2 and len(report["mlflow"]["autolog"]) == 2
    assert report["sampling"]["samples"] >= 1 and report["sampling"]["points"] >= 1
