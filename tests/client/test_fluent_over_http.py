"""The same fluent workflow against a tracking server (REST backend, proxied artifacts), the
server app answering in-process."""

from __future__ import annotations

from pathlib import Path

import pytest

import mltrail
from mltrail.errors import InvalidParameterValue


def test_quickstart_over_http(remote: str, tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "a.txt").write_text("a")
    mltrail.set_experiment("churn")
    with mltrail.start_run(run_name="remote") as run:
        mltrail.log_params({"C": 1.0, "solver": "lbfgs"})
        for step in range(20_000):
            mltrail.log_metric("loss", 1.0 / (step + 1), step=step)
        mltrail.log_text("hello", "notes/hello.txt")
        mltrail.log_artifacts(src, artifact_path="data")
    assert run.info.artifact_uri.startswith("mlflow-artifacts:")
    client = mltrail.TrackingClient()
    stored = client.get_run(run.info.run_id)
    assert stored.info.status == "FINISHED"
    assert stored.data.params == {"C": "1.0", "solver": "lbfgs"}
    assert len(client.get_metric_history(run.info.run_id, "loss")) == 20_000
    assert {f.path for f in client.list_artifacts(run.info.run_id)} == {"data", "notes"}
    out = Path(client.download_artifacts(run.info.run_id, "data/sub/a.txt", tmp_path / "dl"))
    assert out.read_text() == "a"
    df = mltrail.search_runs(experiment_names=["churn"])
    assert list(df["run_id"]) == [run.info.run_id]
    assert df["params.solver"].iloc[0] == "lbfgs"


def test_param_overwrite_over_http_surfaces_at_end_run(remote: str) -> None:
    run = mltrail.start_run()
    # Logged by another process: this one cannot know, so the server refuses the new value.
    mltrail.TrackingClient(remote).log_param(run.info.run_id, "lr", 0.1)
    mltrail.log_param("lr", 0.2)
    # Over HTTP the error arrives as its wire code (INVALID_PARAMETER_VALUE).
    with pytest.raises(InvalidParameterValue, match="Changing param values is not allowed"):
        mltrail.end_run()
    stored = mltrail.get_run(run.info.run_id)
    assert stored.data.params == {"lr": "0.1"}
    assert stored.info.status == "FINISHED"
