"""The mlflow client's own autologging and system metrics, against an mltrail server."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.mlflow


def test_mlflow_sklearn_autolog_end_to_end(run_mlflow, server):
    result = run_mlflow(
        """
        import numpy as np
        from sklearn.datasets import make_classification
        from sklearn.linear_model import LogisticRegression
        import sklearn.metrics
        from sklearn.model_selection import GridSearchCV

        mlflow.set_experiment("autolog")
        mlflow.sklearn.autolog()
        X, y = make_classification(300, 5, random_state=0)
        X_train, X_test, y_train, y_test = X[:200], X[200:], y[:200], y[200:]
        model = LogisticRegression(C=0.5).fit(X_train, y_train)
        run = mlflow.last_active_run()
        score = model.score(X_test, y_test)
        # Looked up after autolog() patched it (a name imported before keeps the original).
        accuracy = sklearn.metrics.accuracy_score(y_test, model.predict(X_test))
        search = GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0, 10.0]}, cv=3)
        search.fit(X_train, y_train)
        parent = mlflow.last_active_run()

        client = MlflowClient()
        stored = client.get_run(run.info.run_id)
        model_id = mlflow.search_logged_models(
            filter_string=f"source_run_id = '{run.info.run_id}'", output_format="list"
        )[0].model_id
        loaded = mlflow.sklearn.load_model(f"models:/{model_id}")
        children = client.search_runs(
            [parent.info.experiment_id],
            filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
        )
        parent_stored = client.get_run(parent.info.run_id)
        emit({
            "status": stored.info.status,
            "params": stored.data.params,
            "metrics": stored.data.metrics,
            "tags": stored.data.tags,
            "score": score,
            "accuracy": accuracy,
            "same_predictions": bool((loaded.predict(X_test) == model.predict(X_test)).all()),
            "children": sorted(c.data.params["C"] for c in children),
            "parent_params": parent_stored.data.params,
            "parent_metrics": sorted(parent_stored.data.metrics),
            "parent_files": sorted(f.path for f in client.list_artifacts(parent.info.run_id)),
        })
        """
    )
    assert result["status"] == "FINISHED"
    assert result["params"]["C"] == "0.5"
    assert result["tags"]["estimator_name"] == "LogisticRegression"
    assert result["tags"]["mlflow.autologging"] == "sklearn"
    for key in ("training_accuracy_score", "training_f1_score", "training_log_loss",
                "training_roc_auc", "training_score"):  # fmt: skip
        assert key in result["metrics"], key
    assert result["metrics"]["LogisticRegression_score_X_test"] == pytest.approx(result["score"])
    assert result["metrics"]["accuracy_score_X_test"] == pytest.approx(result["accuracy"])
    assert result["same_predictions"] is True
    assert result["children"] == ["0.1", "1.0", "10.0"]
    assert result["parent_params"]["best_C"] in ("0.1", "1.0", "10.0")
    assert "best_cv_score" in result["parent_metrics"]
    assert "cv_results.csv" in result["parent_files"]


def test_mlflow_system_metrics_end_to_end(run_mlflow):
    result = run_mlflow(
        """
        import os, time
        os.environ["MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL"] = "0.5"
        with mlflow.start_run(log_system_metrics=True) as run:
            mlflow.log_metric("loss", 1.0)
            time.sleep(3)
        client = MlflowClient()
        stored = client.get_run(run.info.run_id)
        history = client.get_metric_history(run.info.run_id, "system/cpu_utilization_percentage")
        emit({
            "keys": sorted(stored.data.metrics),
            "steps": [m.step for m in history],
            "status": stored.info.status,
        })
        """
    )
    assert result["status"] == "FINISHED"
    assert "system/cpu_utilization_percentage" in result["keys"]
    assert "system/system_memory_usage_megabytes" in result["keys"]
    assert "system/disk_usage_percentage" in result["keys"]
    assert "system/network_receive_megabytes" in result["keys"]
    assert len(result["steps"]) >= 2
    assert result["steps"] == list(range(len(result["steps"])))
