from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.linear_model import LogisticRegression

import mltrail.pyfunc
import mltrail.sklearn
from mltrail.client.fluent.state import reset_state
from mltrail.client.tracking_client import TrackingClient
from mltrail.errors import InvalidParameterValue, ResourceDoesNotExist


@pytest.fixture
def tracking(tmp_path: Path) -> Iterator[str]:
    reset_state()
    uri = f"sqlite:///{tmp_path / 'track.db'}"
    mltrail.set_tracking_uri(uri)
    yield uri
    while mltrail.active_run() is not None:
        mltrail.end_run()
    reset_state()


@pytest.fixture
def model_and_data() -> tuple[LogisticRegression, pd.DataFrame]:
    rng = np.random.default_rng(3)
    X = pd.DataFrame({"x1": rng.normal(size=40), "x2": rng.normal(size=40)})
    return LogisticRegression().fit(X, (X["x1"] > 0).astype(int)), X


def test_log_and_load_through_runs_uri(
    tracking: str, tmp_path: Path, model_and_data: tuple[LogisticRegression, pd.DataFrame]
) -> None:
    model, X = model_and_data
    with mltrail.start_run() as run:
        info = mltrail.sklearn.log_model(model, "model", input_example=X.head(3))
    run_id = run.info.run_id
    assert info.model_id is not None and info.model_id.startswith("m-")
    assert info.model_uri == f"models:/{info.model_id}"
    assert (info.run_id, info.artifact_path, info.name) == (run_id, "model", "model")
    assert set(info.flavors) == {"python_function", "sklearn"}
    assert info.signature is not None and [s["name"] for s in info.signature.inputs] == ["x1", "x2"]

    client = TrackingClient(tracking)
    logged = client.get_logged_model(info.model_id)
    assert logged.status.value == "LOGGED_MODEL_READY" and logged.source_run_id == run_id
    assert logged.artifact_location == info.artifact_location
    assert logged.artifact_location.endswith(f"/models/{info.model_id}/artifacts")
    # The files are stored once, with the logged model; the run has no copy.
    assert client.list_artifacts(run_id) == []
    store = client.logged_model_artifact_store(info.model_id)
    assert sorted(f.path for f in store.list("")) == [
        "MLmodel",
        "input_example.json",
        "model.skops",
        "python_env.yaml",
        "requirements.txt",
    ]
    local = Path(client.download_artifacts_from_uri(logged.artifact_location, tmp_path / "dl"))
    mlmodel = yaml.safe_load((local / "MLmodel").read_text())
    assert mlmodel["run_id"] == run_id and mlmodel["model_id"] == info.model_id

    pyfunc = mltrail.pyfunc.load_model(f"runs:/{run_id}/model")
    np.testing.assert_array_equal(pyfunc.predict(X), model.predict(X))
    assert pyfunc.metadata.run_id == run_id
    estimator = mltrail.sklearn.load_model(info.model_uri)
    np.testing.assert_array_equal(estimator.predict(X), model.predict(X))
    # One file of the model.
    assert Path(
        client.download_artifacts_from_uri(f"{logged.artifact_location}/MLmodel", tmp_path / "f")
    ).exists()


def test_log_model_starts_a_run_when_none_is_active(
    tracking: str, model_and_data: tuple[LogisticRegression, pd.DataFrame]
) -> None:
    model, X = model_and_data
    assert mltrail.active_run() is None
    info = mltrail.sklearn.log_model(model, "clf", serialization_format="pickle")
    active = mltrail.active_run()
    assert active is not None and active.info.run_id == info.run_id
    with pytest.warns(UserWarning, match="arbitrary code"):
        loaded = mltrail.pyfunc.load_model(f"runs:/{info.run_id}/clf")
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


@pytest.mark.parametrize(
    "name", ["", " ", "/", "../model", "a\\b", "%2e%2e", "nested/clf", "v1.2", "a:b", "x\n"]
)
def test_log_model_rejects_bad_names(
    tracking: str, name: str, model_and_data: tuple[LogisticRegression, pd.DataFrame]
) -> None:
    with pytest.raises(InvalidParameterValue):
        mltrail.sklearn.log_model(model_and_data[0], name)


def test_load_missing_runs_uri(tracking: str) -> None:
    with mltrail.start_run() as run:
        pass
    with pytest.raises(ResourceDoesNotExist):
        mltrail.pyfunc.load_model(f"runs:/{run.info.run_id}/nope")
    with pytest.raises(ResourceDoesNotExist):
        mltrail.pyfunc.load_model("runs:/0123456789abcdef/model")
    with pytest.raises(InvalidParameterValue, match="Invalid path"):
        mltrail.pyfunc.load_model(f"runs:/{run.info.run_id}/../x")
