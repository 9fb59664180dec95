"""``mltrail.autolog()`` / ``mltrail.sklearn.autolog()`` on real scikit-learn training."""

from __future__ import annotations

import json
import logging
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.datasets import make_classification, make_regression
from sklearn.decomposition import PCA
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import mltrail
from mltrail.errors import InvalidParameterValue

CLASSIFIER_METRICS = {
    "training_accuracy_score",
    "training_precision_score",
    "training_recall_score",
    "training_f1_score",
    "training_log_loss",
    "training_roc_auc",
    "training_score",
}
REGRESSOR_METRICS = {
    "training_mean_squared_error",
    "training_root_mean_squared_error",
    "training_mean_absolute_error",
    "training_r2_score",
    "training_score",
}


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    X, y = make_classification(200, 5, random_state=0)
    return X, y


def _runs() -> list[mltrail.Run]:
    return mltrail.search_runs(output_format="list")  # type: ignore[return-value]


def _models_of(run_id: str) -> list[Any]:
    client = mltrail.TrackingClient()
    experiment_id = client.get_run(run_id).info.experiment_id
    return [m for m in client.search_logged_models(experiment_id) if m.source_run_id == run_id]


def _last() -> mltrail.Run:
    mltrail.flush()
    run = mltrail.last_active_run()
    assert run is not None
    return run


def test_a_fit_becomes_a_complete_run(store_dir: Path, data: Any) -> None:
    X, y = data
    mltrail.autolog()
    model = LogisticRegression(C=0.5)
    assert model.fit(X, y) is model
    run = _last()
    assert run.info.status == "FINISHED"
    assert mltrail.active_run() is None
    assert run.data.params["C"] == "0.5"
    assert set(run.data.params) == set(LogisticRegression().get_params())
    assert run.data.tags["estimator_name"] == "LogisticRegression"
    assert run.data.tags["estimator_class"] == "sklearn.linear_model._logistic.LogisticRegression"
    assert run.data.tags["mlflow.autologging"] == "sklearn"
    assert set(run.data.metrics) == CLASSIFIER_METRICS
    assert run.data.metrics["training_accuracy_score"] == pytest.approx(model.score(X, y))
    loaded = mltrail.sklearn.load_model(f"runs:/{run.info.run_id}/model")
    assert (loaded.predict(X) == model.predict(X)).all()
    model_dir = _model_dir(run.info.run_id)
    meta = (model_dir / "MLmodel").read_text()
    assert "signature:" in meta and "serialization_format: skops" in meta
    example = json.loads((model_dir / "input_example.json").read_text())
    assert np.allclose(example["inputs"], X[:5])


def _model_dir(run_id: str) -> Path:
    from mltrail.models.uri import resolve_model_uri

    return Path(resolve_model_uri(f"runs:/{run_id}/model"))


def test_regressor_metrics(store_dir: Path) -> None:
    X, y = make_regression(100, 4, noise=5.0, random_state=0)
    mltrail.sklearn.autolog()
    Ridge(alpha=2.0).fit(X, y)
    metrics = _last().data.metrics
    assert set(metrics) == REGRESSOR_METRICS
    assert metrics["training_root_mean_squared_error"] == pytest.approx(
        math.sqrt(metrics["training_mean_squared_error"])
    )


def test_an_active_run_is_reused_and_left_open(store_dir: Path, data: Any) -> None:
    X, y = data
    mltrail.autolog()
    with mltrail.start_run() as run:
        LogisticRegression().fit(X, y)
        assert mltrail.active_run() is run
        mltrail.log_metric("mine", 1.0)
    stored = mltrail.get_run(run.info.run_id)
    assert "training_score" in stored.data.metrics and "mine" in stored.data.metrics
    assert "mlflow.autologging" not in stored.data.tags
    assert len(_runs()) == 1


def test_pipeline_params_are_flattened_and_inner_fits_not_logged(
    store_dir: Path, data: Any
) -> None:
    X, y = data
    mltrail.autolog()
    Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(C=3.0))]).fit(X, y)
    run = _last()
    assert run.data.params["clf__C"] == "3.0"
    assert run.data.params["scale__with_mean"] == "True"
    assert run.data.tags["estimator_name"] == "Pipeline"
    assert len(_runs()) == 1
    # Preprocessing alone is not autologged (as in MLflow).
    StandardScaler().fit(X)
    assert len(_runs()) == 1


def test_available_if_methods_keep_answering_hasattr(store_dir: Path) -> None:
    mltrail.autolog()
    only_transforms = Pipeline([("scale", StandardScaler()), ("pca", PCA())])
    assert not hasattr(only_transforms, "predict")
    assert hasattr(Pipeline([("clf", LogisticRegression())]), "predict_proba")


def test_grid_search_logs_best_params_cv_results_and_capped_child_runs(
    store_dir: Path, data: Any
) -> None:
    X, y = data
    mltrail.autolog(extra_tags={"team": "risk"})
    grid = {"C": [0.01, 0.1, 1.0, 10.0], "fit_intercept": [True, False]}
    search = GridSearchCV(LogisticRegression(), grid, cv=3).fit(X, y)
    parent = _last()
    assert parent.data.params["best_C"] == str(search.best_params_["C"])
    assert "param_grid" in parent.data.params and "estimator__C" not in parent.data.params
    assert parent.data.metrics["best_cv_score"] == pytest.approx(search.best_score_)
    assert "training_accuracy_score" in parent.data.metrics
    assert parent.data.tags["team"] == "risk"
    files = [f.path for f in mltrail.TrackingClient().list_artifacts(parent.info.run_id)]
    assert "cv_results.csv" in files
    children = [r for r in _runs() if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert len(children) == 5  # the default cap, of 8 candidates
    ranks = sorted(c.data.metrics["rank_test_score"] for c in children)
    assert ranks == sorted(search.cv_results_["rank_test_score"])[:5]
    for child in children:
        assert child.info.status == "FINISHED"
        assert set(child.data.params) == set(LogisticRegression().get_params())
        assert {"mean_test_score", "std_test_score", "mean_fit_time"} <= set(child.data.metrics)
        assert not any(k.startswith("split") for k in child.data.metrics)
        assert child.data.tags["team"] == "risk"
    best = next(c for c in children if c.data.metrics["rank_test_score"] == 1.0)
    assert best.data.params["C"] == str(search.best_params_["C"])
    assert {m.name for m in _models_of(parent.info.run_id)} == {"model", "best_estimator"}
    assert len(_runs()) == 6


def test_child_run_cap_from_the_argument_and_the_setting(
    store_dir: Path, data: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    X, y = data
    mltrail.autolog(log_models=False)
    mltrail.sklearn.autolog(max_tuning_runs=2, log_models=False)
    RandomizedSearchCV(LogisticRegression(), {"C": [0.1, 1, 10]}, n_iter=3, cv=2).fit(X, y)
    assert len(_runs()) == 3
    mltrail.sklearn.autolog(max_tuning_runs=0, log_models=False)
    GridSearchCV(LogisticRegression(), {"C": [0.1, 1]}, cv=2).fit(X, y)
    assert len(_runs()) == 4
    monkeypatch.setenv("MLTRAIL_AUTOLOG_MAX_TUNING_RUNS", "1")
    from mltrail.client.fluent.state import STATE

    STATE.settings = None
    mltrail.sklearn.autolog(log_models=False)
    GridSearchCV(LogisticRegression(), {"C": [0.1, 1, 10]}, cv=2).fit(X, y)
    assert len(_runs()) == 6


def test_post_training_metrics_are_named_after_the_dataset(store_dir: Path, data: Any) -> None:
    X, y = data
    X_train, X_test, y_train, y_test = X[:150], X[150:], y[:150], y[150:]
    mltrail.autolog()
    from sklearn.metrics import accuracy_score, f1_score

    model = LogisticRegression().fit(X_train, y_train)
    run_id = _last().info.run_id
    score = model.score(X_test, y_test)
    predictions = model.predict(X_test)
    accuracy = accuracy_score(y_test, predictions)
    accuracy_score(y_test, predictions)
    f1 = f1_score(y_test, predictions)
    holdout = X_test.copy()
    model.predict(holdout)
    mltrail.flush()
    metrics = mltrail.get_run(run_id).data.metrics
    assert metrics["LogisticRegression_score_X_test"] == pytest.approx(score)
    assert metrics["accuracy_score_X_test"] == pytest.approx(accuracy)
    assert metrics["accuracy_score-2_X_test"] == pytest.approx(accuracy)
    assert metrics["f1_score_X_test"] == pytest.approx(f1)
    # Metrics on data that no autologged model predicted are not logged.
    accuracy_score(y_test, y_test)
    mltrail.flush()
    assert set(mltrail.get_run(run_id).data.metrics) - CLASSIFIER_METRICS == {
        "LogisticRegression_score_X_test",
        "accuracy_score_X_test",
        "accuracy_score-2_X_test",
        "f1_score_X_test",
    }


def test_post_training_metrics_can_be_turned_off(store_dir: Path, data: Any) -> None:
    X, y = data
    mltrail.autolog()
    mltrail.sklearn.autolog(log_post_training_metrics=False)
    model = LogisticRegression().fit(X, y)
    model.score(X, y)
    assert set(_last().data.metrics) == CLASSIFIER_METRICS


def test_fit_predict_and_fit_transform(store_dir: Path, data: Any) -> None:
    X, _ = data
    mltrail.autolog()
    labels = KMeans(n_clusters=2, n_init=2, random_state=0).fit_predict(X)
    assert len(labels) == len(X)
    kmeans = _last()
    assert (
        kmeans.data.tags["estimator_name"] == "KMeans" and kmeans.data.params["n_clusters"] == "2"
    )
    assert [m.name for m in _models_of(kmeans.info.run_id)] == ["model"]
    reduced = PCA(n_components=2).fit_transform(X)
    assert reduced.shape == (len(X), 2)
    pca = _last()
    assert pca.info.run_id != kmeans.info.run_id
    assert pca.data.params["n_components"] == "2"
    assert _models_of(pca.info.run_id) == []  # no predict: no model, by design


def test_disable_restores_the_originals(store_dir: Path, data: Any) -> None:
    X, y = data
    original_fit = LogisticRegression.fit
    original_predict = Pipeline.__dict__["predict"].fn
    mltrail.autolog()
    assert LogisticRegression.fit is not original_fit
    mltrail.autolog(disable=True)
    assert LogisticRegression.fit is original_fit
    assert Pipeline.__dict__["predict"].fn is original_predict
    LogisticRegression().fit(X, y)
    assert _runs() == []


def test_log_models_false(store_dir: Path, data: Any) -> None:
    X, y = data
    mltrail.autolog(log_models=False)
    LogisticRegression().fit(X, y)
    run = _last()
    assert _models_of(run.info.run_id) == []
    assert set(run.data.metrics) == CLASSIFIER_METRICS


def test_exclusive_leaves_the_users_run_alone(store_dir: Path, data: Any) -> None:
    X, y = data
    mltrail.autolog(exclusive=True)
    with mltrail.start_run() as run:
        LogisticRegression().fit(X, y)
    assert mltrail.get_run(run.info.run_id).data.params == {}
    LogisticRegression().fit(X, y)
    assert len(_runs()) == 2


def test_a_fit_that_fails_raises_as_before_and_the_run_is_failed(store_dir: Path) -> None:
    mltrail.autolog()
    X = np.zeros((10, 2))
    with pytest.raises(ValueError, match="needs samples of at least 2 classes") as raised:
        LogisticRegression(C=7.0).fit(X, np.zeros(10))
    assert "mltrail" not in str(raised.value)
    run = _last()
    assert run.info.status == "FAILED"
    assert run.data.params["C"] == "7.0"
    assert mltrail.active_run() is None


# scikit-learn warns (UndefinedMetricWarning) where it answers NaN; in a training script that is
# a warning, here the suite's warnings-as-errors would turn it into a skipped metric.
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.UndefinedMetricWarning")
def test_metrics_that_cannot_be_computed_are_skipped_and_said_once(
    store_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="mltrail.autolog")
    mltrail.autolog()
    X = np.arange(20.0).reshape(10, 2)
    DummyClassifier().fit(X, np.ones(10))  # one class: no log loss
    run = _last()
    assert run.info.status == "FINISHED"
    assert {"training_accuracy_score", "training_score"} <= set(run.data.metrics)
    assert "training_log_loss" not in run.data.metrics
    # scikit-learn answers NaN (with a warning) for ROC AUC: stored as it is.
    assert math.isnan(run.data.metrics["training_roc_auc"])
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1
    assert "DummyClassifier" in said[0] and "training_log_loss" in said[0]


class NaNRegressor(Ridge):
    """Predicts NaN everywhere (inherits the patched fit of Ridge)."""

    def predict(self, X: Any) -> Any:
        return np.full(len(X), np.nan)


def test_nan_predictions_skip_the_metrics_not_the_run(
    store_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="mltrail.autolog")
    X, y = make_regression(30, 3, random_state=0)
    mltrail.autolog(log_models=False)
    model = NaNRegressor().fit(X, y)
    assert isinstance(model, NaNRegressor)
    run = _last()
    assert run.info.status == "FINISHED"
    assert run.data.tags["estimator_name"] == "NaNRegressor"
    assert "training_mean_squared_error" not in run.data.metrics
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1 and "training_mean_squared_error" in said[0] and "NaN" in said[0]


class GeneratorHolder(LogisticRegression):
    """Keeps a generator, which skops cannot save."""

    def fit(self, X: Any, y: Any) -> Any:
        self.history_ = (i for i in range(3))
        return super().fit(X, y)


def test_a_model_skops_cannot_save_is_a_warning_and_no_model(
    store_dir: Path, data: Any, caplog: pytest.LogCaptureFixture
) -> None:
    X, y = data
    caplog.set_level(logging.WARNING, logger="mltrail.autolog")
    mltrail.autolog()
    model = GeneratorHolder().fit(X, y)
    assert model.predict(X).shape == (len(X),)
    run = _last()
    assert run.info.status == "FINISHED"
    assert set(run.data.metrics) == CLASSIFIER_METRICS
    assert _models_of(run.info.run_id) == []
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1
    assert "the model 'model': skops could not save it" in said[0] and "generator" in said[0]


def test_silent_says_nothing(
    store_dir: Path, caplog: pytest.LogCaptureFixture, recwarn: pytest.WarningsRecorder
) -> None:
    caplog.set_level(logging.DEBUG, logger="mltrail.autolog")
    mltrail.autolog(silent=True)
    DummyClassifier().fit(np.arange(20.0).reshape(10, 2), np.ones(10))
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert [str(w.message) for w in recwarn if "mltrail" in str(w.filename)] == []
    assert _last().info.status == "FINISHED"


def test_a_param_clash_in_the_users_run_is_a_warning_during_fit(
    store_dir: Path, data: Any, caplog: pytest.LogCaptureFixture
) -> None:
    X, y = data
    caplog.set_level(logging.WARNING, logger="mltrail.autolog")
    mltrail.autolog(log_models=False)
    with mltrail.start_run() as run:
        mltrail.log_param("C", "user value", synchronous=True)
        LogisticRegression().fit(X, y)
    # end_run raised nothing; the clash was said during fit, the metrics still logged.
    assert mltrail.get_run(run.info.run_id).data.params["C"] == "user value"
    assert "training_score" in mltrail.get_run(run.info.run_id).data.metrics
    assert any("params" in r.getMessage() for r in caplog.records)


def test_cross_validation_fits_are_not_logged(store_dir: Path, data: Any) -> None:
    X, y = data
    mltrail.autolog()
    from sklearn.model_selection import cross_val_score

    scores = cross_val_score(LogisticRegression(), X, y, cv=3)
    assert len(scores) == 3
    assert _runs() == []


def test_fits_in_other_threads_during_a_logged_fit_are_not_logged(
    store_dir: Path, data: Any
) -> None:
    import joblib

    X, y = data
    mltrail.autolog(log_models=False)
    with joblib.parallel_backend("threading", n_jobs=2):
        GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, cv=2, n_jobs=2).fit(X, y)
    assert len([r for r in _runs() if "mlflow.parentRunId" not in r.data.tags]) == 1


def test_autolog_before_importing_sklearn_patches_it_on_import(tmp_path: Path) -> None:
    code = f"""
import sys, mltrail
mltrail.set_tracking_uri({str(tmp_path / "store")!r})
mltrail.autolog()
assert "sklearn" not in sys.modules, "autolog() imported scikit-learn"
from sklearn.tree import DecisionTreeClassifier
DecisionTreeClassifier(max_depth=2).fit([[0], [1], [2], [3]], [0, 0, 1, 1])
run = mltrail.last_active_run()
print(run.data.params["max_depth"], run.data.tags["estimator_name"])
"""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["2", "DecisionTreeClassifier"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_tuning_runs": -1}, "max_tuning_runs"),
        ({"max_tuning_runs": 1.5}, "max_tuning_runs"),
        ({"serialization_format": "joblib"}, "serialization_format"),
    ],
)
def test_bad_options(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidParameterValue, match=message):
        mltrail.sklearn.autolog(**kwargs)
