"""Dataset inputs (runs/log-inputs) and model outputs (runs/outputs) through the mlflow client."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.mlflow


def test_log_input_dataset_round_trip(run_mlflow):
    result = run_mlflow(
        """
        import pandas as pd
        frame = pd.DataFrame({"x": [1, 2, 3], "y": [0, 1, 0]})
        dataset = mlflow.data.from_pandas(frame, name="toy", targets="y")
        with mlflow.start_run() as run:
            mlflow.log_input(dataset, context="training")
            mlflow.log_input(dataset, context="training")  # same input: recorded once
            mlflow.log_input(dataset, context="eval")
        got = MlflowClient().get_run(run.info.run_id)
        inputs = got.inputs.dataset_inputs
        emit({
            "count": len(inputs),
            "names": [i.dataset.name for i in inputs],
            "digests": [i.dataset.digest for i in inputs],
            "contexts": sorted(t.value for i in inputs for t in i.tags),
            "source_type": inputs[0].dataset.source_type,
            "has_schema": bool(inputs[0].dataset.schema),
            "expected_digest": dataset.digest,
            "tag_keys": sorted(got.data.tags),
        })
        """
    )
    assert result["count"] == 2
    assert result["names"] == ["toy", "toy"]
    assert result["digests"] == [result["expected_digest"]] * 2
    assert result["contexts"] == ["eval", "training"]
    assert result["source_type"] == "code"
    assert result["has_schema"] is True
    # The storage tag is not shown as a run tag.
    assert "mltrail.inputs" not in result["tag_keys"]


def test_run_outputs_are_recorded(server, run_mlflow):
    rid = run_mlflow("emit(MlflowClient().create_run('0').info.run_id)")
    api = f"{server.url}/api/2.0/mlflow"
    body = {"run_id": rid, "models": [{"model_id": "m-" + "a" * 32, "step": 3}]}
    assert httpx.post(f"{api}/runs/outputs", json=body).json() == {}
    assert httpx.post(f"{api}/runs/outputs", json=body).json() == {}
    run = httpx.get(f"{api}/runs/get", params={"run_id": rid}).json()["run"]
    assert run["outputs"] == {"model_outputs": [{"model_id": "m-" + "a" * 32, "step": 3}]}
    tags = {t["key"] for t in run["data"].get("tags", [])}
    assert "mltrail.outputs" not in tags
    missing = httpx.post(f"{api}/runs/outputs", json={**body, "run_id": "f" * 32})
    assert missing.status_code == 404
