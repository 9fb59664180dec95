"""bench/fleet_bench.py runs end to end at tiny sizes: MLflow and one mltrail replica behind
nginx on PostgreSQL, every point read back (it asserts no time)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.mlflow, pytest.mark.postgres, pytest.mark.fleet]


@pytest.mark.timeout(600)
def test_fleet_bench_smoke(tmp_path: Path) -> None:
    configured = os.environ.get("MLTRAIL_TEST_MLFLOW_PYTHON")
    mlflow_python = Path(configured) if configured else REPO / ".venv-mlflow" / "bin" / "python"
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "fleet_bench.py"), "--smoke",
         "--mlflow-workers", "1", "--mlflow-python", str(mlflow_python),
         "--out-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=580,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    (result,) = tmp_path.glob("fleet-*.json")
    results = json.loads(result.read_text())["results"]
    assert set(results) == {"mlflow-w1", "mltrail-x1"}
    for modes in results.values():
        assert set(modes) == {"calls", "batch"}
        for r in modes.values():
            assert r["calls"] > 0 and r["lost"] == 0 and r["doubled"] == 0
            assert r["points"] == (r["calls"] if r is modes["calls"] else r["calls"] * 1000)
    assert "| mltrail-x1 | calls |" in done.stdout
