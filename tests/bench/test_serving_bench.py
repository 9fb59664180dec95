"""bench/serving_bench.py runs end to end at tiny sizes (it asserts no time)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.mlflow


def test_serving_bench_smoke(tmp_path: Path) -> None:
    configured = os.environ.get("MLTRAIL_TEST_MLFLOW_PYTHON")
    mlflow_python = Path(configured) if configured else REPO / ".venv-mlflow" / "bin" / "python"
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "serving_bench.py"), "--smoke",
         "--mlflow-python", str(mlflow_python), "--out-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    (result,) = tmp_path.glob("serving-*-smoke.json")
    ratios = json.loads(result.read_text())["ratios"]
    assert set(ratios) == {"ridge", "forest"}
    assert all(set(r) == {"p50", "p99", "rows_per_s", "idle_rss"} for r in ratios.values())
