"""examples/quickstart.py runs end to end in a fresh folder and leaves its runs in ./mltrail."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from mltrail.client.tracking_client import TrackingClient

from .conftest import REPO, clean_env, run_module

EXAMPLE = REPO / "examples" / "quickstart.py"


def test_quickstart_logs_five_complete_runs(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLE)],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Logged 5 runs to experiment 'quickstart'" in done.stdout
    assert "mltrail runs list --experiment quickstart" in done.stdout

    client = TrackingClient(tracking_uri=str(tmp_path / "mltrail"))
    experiment = client.get_experiment_by_name("quickstart")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 5
    for run in runs:
        assert run.info.status == "FINISHED"
        assert set(run.data.params) >= {"eta0", "alpha", "epochs"}
        assert set(run.data.metrics) == {"train_rmse", "val_rmse", "val_mae", "val_r2"}
        assert run.data.tags["dataset"] == "diabetes"
        history = client.get_metric_history(run.info.run_id, "val_rmse")
        assert [m.step for m in history] == list(range(1, 31))
        names = {f.path for f in client.list_artifacts(run.info.run_id)}
        assert {"summary.json", "notes.txt"} <= names
        # The model is a logged model of the run (its files live with it, not under the run).
        [logged] = client.search_logged_models(
            [experiment.experiment_id], filter_string=f"source_run_id = '{run.info.run_id}'"
        )
        assert (logged.name, logged.status.value) == ("model", "LOGGED_MODEL_READY")

    best = min(runs, key=lambda r: r.data.metrics["val_rmse"])
    summary_dir = client.download_artifacts(best.info.run_id, "summary.json", str(tmp_path / "dl"))
    summary = json.loads(Path(summary_dir).read_text())
    assert summary["final"]["val_rmse"] == best.data.metrics["val_rmse"]

    import mltrail.sklearn

    [best_model] = client.search_logged_models(
        [experiment.experiment_id], filter_string=f"source_run_id = '{best.info.run_id}'"
    )
    model = mltrail.sklearn.load_model(best_model.artifact_location)
    from sklearn.datasets import load_diabetes

    features, _ = load_diabetes(return_X_y=True)
    assert np.asarray(model.predict(features[:3])).shape == (3,)

    # The Makefile's demo target shows the runs with the CLI right after the example.
    listed = run_module(["runs", "list", "--experiment", "quickstart"], cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert len(listed.stdout.strip().splitlines()) == 2 + 5
