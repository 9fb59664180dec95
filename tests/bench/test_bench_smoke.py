"""Every benchmark script runs end to end at its tiny size (``--smoke``) and writes its result.

These check that the scripts still work against today's code (a script calling a store
function that no longer exists fails here), not how fast anything is: no time is asserted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "bench"
SHARED_BENCH = REPO.parent / "shared" / "bench"


@pytest.fixture(scope="module")
def mlflow_python() -> Path:
    configured = os.environ.get("MLTRAIL_TEST_MLFLOW_PYTHON")
    path = Path(configured) if configured else REPO / ".venv-mlflow" / "bin" / "python"
    if not path.exists():
        pytest.fail(
            f"{path} is missing: run `make install-mlflow` (or set MLTRAIL_TEST_MLFLOW_PYTHON)"
        )
    return path


def _run(args: list[str], *, timeout: float, cwd: Path = REPO) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLTRAIL_", "MLFLOW_"))}
    done = subprocess.run(
        args, capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env, check=False
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def _one_result(folder: Path, pattern: str) -> object:
    found = sorted(folder.glob(pattern))
    assert len(found) == 1, found
    return json.loads(found[0].read_text())


@pytest.mark.mlflow
def test_local_store(tmp_path: Path, mlflow_python: Path) -> None:
    _run(
        [sys.executable, str(BENCH / "local_store.py"), "--smoke", "--out-dir", str(tmp_path),
         "--mlflow-python", str(mlflow_python)],
        timeout=300,
    )  # fmt: skip
    report = _one_result(tmp_path, "local-store-*.json")
    assert isinstance(report, dict) and report["points"] == 2_000
    assert {row["what"] for row in report["summary"]} >= {"log", "read"}


def test_client_logging(tmp_path: Path) -> None:
    _run(
        [sys.executable, str(BENCH / "client_logging.py"), "--smoke", "--out-dir", str(tmp_path)],
        timeout=300,
    )
    report = _one_result(tmp_path, "client-logging-*.json")
    assert isinstance(report, dict) and report["points"] == 5_000
    assert report["headline"]["points_per_s_stored"] > 0


@pytest.mark.mlflow
def test_mlflow_client_floor(mlflow_python: Path) -> None:
    out = _run([str(mlflow_python), str(BENCH / "mlflow_client_floor.py"), "--smoke"], timeout=300)
    assert "W3 (b)" in out and "W4" in out


@pytest.mark.mlflow
def test_w3_data_writes_what_trackbench_expects(tmp_path: Path, mlflow_python: Path) -> None:
    """Both tools' databases answer W3's query (b) with the generator's expected page."""
    sys.path.insert(0, str(BENCH))
    try:
        import w3_data
    finally:
        sys.path.remove(str(BENCH))
    for tool, python in (("mltrail", Path(sys.executable)), ("mlflow", mlflow_python)):
        uri = f"sqlite:///{tmp_path / tool}.db"
        _run([str(python), str(BENCH / "w3_data.py"), tool, uri, "--runs", "300"], timeout=300)
    expected = w3_data.expected_b(w3_data.specs(300))
    assert expected

    from mltrail.entities import ViewType
    from mltrail.store.sql import open_store

    store = open_store(f"sqlite:///{tmp_path / 'mltrail'}.db", default_artifact_root="/tmp/x")
    try:
        exp = store.get_experiment_by_name("w3-large")
        assert exp is not None
        page = store.search_runs(
            [exp.experiment_id], filter_string=w3_data.W3_FILTER, view_type=ViewType.ACTIVE_ONLY,
            max_results=100, order_by=[w3_data.W3_ORDER], page_token=None,
        )  # fmt: skip
        assert [r.data.metrics["m0"] for r in page] == expected
    finally:
        store.close()
    script = (
        "import sys, mlflow\n"
        "from mlflow.tracking import MlflowClient\n"
        f"c = MlflowClient('sqlite:///{tmp_path / 'mlflow'}.db')\n"
        "e = c.get_experiment_by_name('w3-large').experiment_id\n"
        f"runs = c.search_runs([e], {w3_data.W3_FILTER!r}, order_by=[{w3_data.W3_ORDER!r}],"
        " max_results=100)\n"
        "print([r.data.metrics['m0'] for r in runs])\n"
    )
    out = _run([str(mlflow_python), "-c", script], timeout=300)
    assert out.strip().splitlines()[-1] == repr(expected)


@pytest.mark.mlflow
@pytest.mark.slow
def test_server_bench(tmp_path: Path, mlflow_python: Path) -> None:
    if not (SHARED_BENCH / "trackbench.py").exists():
        pytest.fail(f"the shared bench harness is missing at {SHARED_BENCH}")
    out = _run(
        [sys.executable, str(BENCH / "server_bench.py"), "--smoke", "--out-dir", str(tmp_path),
         "--mlflow-python", str(mlflow_python), "--port", "5177"],
        timeout=900,
    )  # fmt: skip
    (run,) = tmp_path.glob("server-*")
    summary = (run / "summary.md").read_text()
    for workload in ("W3-http", "W3-60", "W3-60-http"):
        assert f"| {workload} | b_" in summary, workload
    for config in ("mlflow-workers1", "mltrail-default", "mltrail-default@mltrail"):
        assert (run / config / "startup.json").exists(), config
    assert "b_correct | 1 | 1 | 1" in summary
    assert "W3 b raw HTTP" in out


def test_ui_bench(tmp_path: Path) -> None:
    if not Path("/usr/bin/chromium").exists():
        pytest.fail("/usr/bin/chromium is missing: run `bash scripts/install-browser.sh`")
    _run(
        [sys.executable, str(BENCH / "ui_bench.py"), "--smoke", "--out-dir", str(tmp_path)],
        timeout=600,
    )
    report = _one_result(tmp_path, "ui-*.json")
    assert isinstance(report, dict) and report["runs"] == 100
    assert report["runs_page_rows"] > 0
