"""Runs and logging through the real mlflow client: fluent workflow, history, errors."""

from __future__ import annotations

import math

import pytest

pytestmark = pytest.mark.mlflow


def test_fluent_run_with_params_metrics_tags_and_history(run_mlflow):
    result = run_mlflow(
        """
        mlflow.set_experiment("churn")
        with mlflow.start_run(run_name="r1") as active:
            mlflow.log_params({"C": 1.0, "solver": "lbfgs"})
            mlflow.log_metric("acc", 0.9)
            mlflow.log_metric("acc", 0.95, step=1)
            mlflow.log_metric("acc", 0.93, step=2)
            mlflow.set_tags({"team": "ml", "empty": ""})
            run_id = active.info.run_id
        client = MlflowClient()
        run = client.get_run(run_id)
        history = client.get_metric_history(run_id, "acc")
        exp = client.get_experiment_by_name("churn")
        emit({
            "run_id": run_id,
            "name": run.info.run_name,
            "status": run.info.status,
            "end_time": run.info.end_time,
            "artifact_uri": run.info.artifact_uri,
            "experiment_id": run.info.experiment_id,
            "churn_id": exp.experiment_id,
            "params": run.data.params,
            "metrics": run.data.metrics,
            "tags": run.data.tags,
            "history": [[m.step, m.value] for m in history],
            "missing_history": len(client.get_metric_history(run_id, "nope")),
        })
        """
    )
    assert len(result["run_id"]) == 32
    assert result["name"] == "r1"
    assert result["status"] == "FINISHED"
    assert result["end_time"] is not None
    assert result["experiment_id"] == result["churn_id"]
    assert result["artifact_uri"] == (
        f"mlflow-artifacts:/{result['churn_id']}/{result['run_id']}/artifacts"
    )
    assert result["params"] == {"C": "1.0", "solver": "lbfgs"}
    assert result["metrics"] == {"acc": 0.93}
    assert result["tags"]["team"] == "ml"
    assert result["tags"]["empty"] == ""
    assert result["tags"]["mlflow.runName"] == "r1"
    assert "mlflow.user" in result["tags"]
    assert result["history"] == [[0, 0.9], [1, 0.95], [2, 0.93]]
    assert result["missing_history"] == 0


def test_latest_metric_keeps_timestamp_and_step(run_mlflow):
    result = run_mlflow(
        """
        import time
        client = MlflowClient()
        run = client.create_run("0")
        rid = run.info.run_id
        client.log_metric(rid, "loss", 3.0, timestamp=1000, step=5)
        client.log_metric(rid, "loss", 1.0, timestamp=2000, step=2)
        got = client.get_run(rid)
        emit({
            "value": got.data.metrics["loss"],
            "user": got.info.user_id,
            "objs": [[m.key, m.value, m.timestamp, m.step] for m in got.data._metric_objs],
        })
        """
    )
    # Latest = max step, not last logged (MLflow's rule).
    assert result["value"] == 3.0
    assert result["objs"] == [["loss", 3.0, 1000, 5]]


def test_log_batch_with_non_finite_values(run_mlflow):
    result = run_mlflow(
        """
        from mlflow.entities import Metric, Param, RunTag
        client = MlflowClient()
        rid = client.create_run("0").info.run_id
        client.log_batch(
            rid,
            metrics=[
                Metric("nan", float("nan"), 1, 0),
                Metric("pinf", float("inf"), 1, 0),
                Metric("ninf", float("-inf"), 1, 0),
                Metric("x", 1.5, 1, 0),
            ],
            params=[Param("p", "v"), Param("e", "")],
            tags=[RunTag("t", "w")],
        )
        run = client.get_run(rid)
        history = client.get_metric_history(rid, "pinf")
        emit({
            "metrics": {k: repr(v) for k, v in run.data.metrics.items()},
            "params": run.data.params,
            "tag": run.data.tags.get("t"),
            "pinf_history": repr(history[0].value),
        })
        """
    )
    assert result["metrics"]["nan"] == "nan"
    assert float(result["metrics"]["pinf"]) == 1.7976931348623157e308
    assert float(result["metrics"]["ninf"]) == -1.7976931348623157e308
    assert result["metrics"]["x"] == "1.5"
    assert not math.isinf(float(result["pinf_history"]))
    assert result["params"] == {"p": "v", "e": ""}
    assert result["tag"] == "w"


def test_param_overwrite_deleted_run_and_missing_tag_errors(run_mlflow):
    result = run_mlflow(
        """
        client = MlflowClient()
        rid = client.create_run("0").info.run_id
        client.log_param(rid, "C", "1.0")
        client.log_param(rid, "C", "1.0")  # same value: a no-op
        overwrite = error_of(lambda: client.log_param(rid, "C", "2.0"))
        missing_tag = error_of(lambda: client.delete_tag(rid, "nope"))
        client.set_tag(rid, "k", "v")
        client.delete_tag(rid, "k")
        tags_after = client.get_run(rid).data.tags
        client.delete_run(rid)
        deleted_stage = client.get_run(rid).info.lifecycle_stage
        write_deleted = error_of(lambda: client.log_metric(rid, "m", 1.0))
        client.restore_run(rid)
        client.log_metric(rid, "m", 1.0)
        missing_run = error_of(lambda: client.get_run("0" * 32))
        emit({
            "overwrite": overwrite, "missing_tag": missing_tag, "k_left": "k" in tags_after,
            "deleted_stage": deleted_stage, "write_deleted": write_deleted,
            "restored_metric": client.get_run(rid).data.metrics, "missing_run": missing_run,
        })
        """
    )
    assert result["overwrite"]["code"] == "INVALID_PARAMETER_VALUE"
    assert "Changing param values is not allowed" in result["overwrite"]["message"]
    assert result["missing_tag"]["code"] == "RESOURCE_DOES_NOT_EXIST"
    assert result["k_left"] is False
    assert result["deleted_stage"] == "deleted"
    assert result["write_deleted"]["code"] == "INVALID_PARAMETER_VALUE"
    assert "active" in result["write_deleted"]["message"]
    assert result["restored_metric"] == {"m": 1.0}
    assert result["missing_run"]["code"] == "RESOURCE_DOES_NOT_EXIST"


def test_update_run_name_and_status(run_mlflow):
    result = run_mlflow(
        """
        client = MlflowClient()
        rid = client.create_run("0", run_name="first").info.run_id
        client.update_run(rid, name="second")
        after_rename = client.get_run(rid)
        client.set_terminated(rid, status="FAILED", end_time=123456)
        ended = client.get_run(rid).info
        emit({
            "name": after_rename.info.run_name,
            "tag": after_rename.data.tags["mlflow.runName"],
            "status_after_rename": after_rename.info.status,
            "status": ended.status, "end_time": ended.end_time,
        })
        """
    )
    assert result == {
        "name": "second",
        "tag": "second",
        "status_after_rename": "RUNNING",
        "status": "FAILED",
        "end_time": 123456,
    }


def test_search_runs_filter_order_and_paging(run_mlflow):
    result = run_mlflow(
        """
        client = MlflowClient()
        exp = client.create_experiment("search-runs")
        ids = []
        for i in range(10):
            run = client.create_run(exp, start_time=1000 + i, run_name=f"run-{i}")
            client.log_metric(run.info.run_id, "score", float(i))
            client.log_param(run.info.run_id, "parity", "even" if i % 2 == 0 else "odd")
            ids.append(run.info.run_id)
        pages, token = [], None
        while True:
            page = client.search_runs([exp], max_results=4, page_token=token)
            pages.append([r.info.run_name for r in page])
            token = page.token
            if not token:
                break
        filtered = client.search_runs(
            [exp], filter_string="metrics.score >= 5 and params.parity = 'odd'",
            order_by=["metrics.score DESC"],
        )
        by_name = client.search_runs([exp], filter_string="attributes.run_name LIKE 'run-1%'")
        bad = error_of(lambda: client.search_runs([exp], filter_string="metrics.score >>> 1"))
        too_many = error_of(lambda: client.search_runs([exp], max_results=123456789))
        fluent = mlflow.search_runs([exp], output_format="list")
        emit({
            "pages": pages,
            "filtered": [r.info.run_name for r in filtered],
            "by_name": [r.info.run_name for r in by_name],
            "bad": bad, "too_many": too_many, "fluent_count": len(fluent),
        })
        """
    )
    assert result["pages"] == [
        ["run-9", "run-8", "run-7", "run-6"],
        ["run-5", "run-4", "run-3", "run-2"],
        ["run-1", "run-0"],
    ]
    assert result["filtered"] == ["run-9", "run-7", "run-5"]
    assert result["by_name"] == ["run-1"]
    assert result["bad"]["code"] == "INVALID_PARAMETER_VALUE"
    assert result["too_many"]["code"] == "INVALID_PARAMETER_VALUE"
    assert result["fluent_count"] == 10
