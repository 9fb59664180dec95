from __future__ import annotations

import json
import pickle
import platform
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sklearn
import skops.io
import yaml
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import mltrail.pyfunc
import mltrail.sklearn
from mltrail.errors import (
    ConfigurationError,
    InvalidParameterValue,
    ResourceAlreadyExists,
    ResourceDoesNotExist,
)
from mltrail.models.signature import ModelSignature


@pytest.fixture
def frame() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {
            "age": rng.integers(18, 80, 120).astype("int64"),
            "income": rng.normal(50_000, 10_000, 120),
            "city": rng.choice(["paris", "lyon", "nice"], 120).astype(object),
        }
    )
    y = (X["income"] > 50_000).astype(int).to_numpy()
    return X, y


def _pipeline(X: pd.DataFrame, y: np.ndarray) -> object:
    pre = ColumnTransformer(
        [
            ("num", StandardScaler(), ["age", "income"]),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["city"]),
        ]
    )
    return make_pipeline(pre, LogisticRegression(max_iter=500)).fit(X, y)


def test_skops_roundtrip_array_model(tmp_path: Path) -> None:
    X = np.arange(20, dtype=float).reshape(10, 2)
    model = LinearRegression().fit(X, X @ [1.0, 2.0])
    mltrail.sklearn.save_model(model, tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == [
        "MLmodel",
        "model.skops",
        "python_env.yaml",
        "requirements.txt",
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = mltrail.sklearn.load_model(tmp_path / "m")
    assert isinstance(loaded, LinearRegression)
    np.testing.assert_allclose(loaded.predict(X), model.predict(X))
    pyfunc = mltrail.pyfunc.load_model(str(tmp_path / "m"))
    np.testing.assert_allclose(pyfunc.predict(X), model.predict(X))
    assert pyfunc.metadata.signature is None
    assert isinstance(pyfunc.get_raw_model(), LinearRegression)


def test_pickle_roundtrip_warns(tmp_path: Path) -> None:
    X = np.arange(20, dtype=float).reshape(10, 2)
    model = LinearRegression().fit(X, X[:, 0])
    mltrail.sklearn.save_model(model, tmp_path / "m", serialization_format="pickle")
    assert (tmp_path / "m" / "model.pkl").is_file()
    with pytest.warns(UserWarning, match="arbitrary code"):
        loaded = mltrail.sklearn.load_model(f"file://{tmp_path / 'm'}")
    np.testing.assert_allclose(loaded.predict(X), model.predict(X))
    with pytest.warns(UserWarning, match="arbitrary code"):
        mltrail.pyfunc.load_model(tmp_path / "m")
    reqs = (tmp_path / "m" / "requirements.txt").read_text().splitlines()
    assert not any(r.startswith("skops") for r in reqs)


def test_pipeline_with_dataframe_and_signature(
    tmp_path: Path, frame: tuple[pd.DataFrame, np.ndarray]
) -> None:
    X, y = frame
    model = _pipeline(X, y)
    mltrail.sklearn.save_model(model, tmp_path / "m", input_example=X.head(5))
    pyfunc = mltrail.pyfunc.load_model(tmp_path / "m")
    np.testing.assert_array_equal(pyfunc.predict(X), model.predict(X))  # type: ignore[attr-defined]
    # Columns are reordered and extra ones dropped to match the signature.
    shuffled = X[["city", "income", "age"]].assign(extra=1)
    np.testing.assert_array_equal(pyfunc.predict(shuffled), model.predict(X))  # type: ignore[attr-defined]
    sig = pyfunc.signature
    assert sig is not None
    assert sig.inputs == [
        {"type": "long", "name": "age", "required": True},
        {"type": "double", "name": "income", "required": True},
        {"type": "string", "name": "city", "required": True},
    ]
    assert sig.outputs == [{"type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1]}}]
    example = json.loads((tmp_path / "m" / "input_example.json").read_text())
    assert example["columns"] == ["age", "income", "city"] and len(example["data"]) == 5


def test_missing_column_error(tmp_path: Path, frame: tuple[pd.DataFrame, np.ndarray]) -> None:
    X, y = frame
    mltrail.sklearn.save_model(_pipeline(X, y), tmp_path / "m", input_example=X.head(3))
    pyfunc = mltrail.pyfunc.load_model(tmp_path / "m")
    with pytest.raises(InvalidParameterValue, match=r"missing columns \['city'\]"):
        pyfunc.predict(X.drop(columns=["city"]))


def test_tensor_signature_checks_shape(tmp_path: Path) -> None:
    X = np.random.default_rng(1).normal(size=(30, 3))
    model = LogisticRegression().fit(X, (X[:, 0] > 0).astype(int))
    mltrail.sklearn.save_model(model, tmp_path / "m", input_example=X[:2])
    pyfunc = mltrail.pyfunc.load_model(tmp_path / "m")
    assert pyfunc.signature is not None and pyfunc.signature.inputs[0]["tensor-spec"] == {
        "dtype": "float64",
        "shape": [-1, 3],
    }
    np.testing.assert_array_equal(pyfunc.predict(X), model.predict(X))
    np.testing.assert_array_equal(pyfunc.predict(X.tolist()), model.predict(X))
    with pytest.raises(InvalidParameterValue, match="shape"):
        pyfunc.predict(X[:, :2])


def test_tree_models_load_with_skops(
    tmp_path: Path, frame: tuple[pd.DataFrame, np.ndarray]
) -> None:
    X, y = frame
    num = X[["age", "income"]]
    for i, model in enumerate(
        [
            RandomForestClassifier(n_estimators=5, random_state=0),
            HistGradientBoostingClassifier(max_iter=5),
        ]
    ):
        model.fit(num, y)
        mltrail.sklearn.save_model(model, tmp_path / str(i), input_example=num.head(2))
        pyfunc = mltrail.pyfunc.load_model(tmp_path / str(i))
        np.testing.assert_array_equal(pyfunc.predict(num), model.predict(num))


class _Custom:
    """A type skops does not know; loading it needs an explicit trust decision."""

    def __init__(self) -> None:
        self.coef = 2.0

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(X)[:, 0] * self.coef


def test_unknown_types_need_explicit_trust(tmp_path: Path) -> None:
    mltrail.sklearn.save_model(_Custom(), tmp_path / "m")
    with pytest.raises(InvalidParameterValue, match="trusted_types"):
        mltrail.sklearn.load_model(tmp_path / "m")
    name = f"{_Custom.__module__}._Custom"
    loaded = mltrail.pyfunc.load_model(tmp_path / "m", trusted_types=[name])
    np.testing.assert_allclose(loaded.predict(np.ones((2, 1))), [2.0, 2.0])


def test_mlmodel_contents(tmp_path: Path, frame: tuple[pd.DataFrame, np.ndarray]) -> None:
    X, y = frame
    mltrail.sklearn.save_model(_pipeline(X, y), tmp_path / "m", input_example=X.head(2))
    data = yaml.safe_load((tmp_path / "m" / "MLmodel").read_text())
    assert data["flavors"]["python_function"]["loader_module"] == "mltrail.models.sklearn"
    assert data["flavors"]["python_function"]["model_path"] == "model.skops"
    sk = data["flavors"]["sklearn"]
    assert sk["sklearn_version"] == sklearn.__version__
    assert sk["serialization_format"] == "skops" and sk["pickled_model"] == "model.skops"
    assert data["mltrail_version"] == mltrail.__version__
    assert len(data["model_uuid"]) == 32 and data["utc_time_created"]
    assert json.loads(data["signature"]["inputs"])[0] == {
        "type": "long",
        "name": "age",
        "required": True,
    }
    assert data["saved_input_example_info"] == {
        "artifact_path": "input_example.json",
        "type": "dataframe",
        "pandas_orient": "split",
    }
    reqs = (tmp_path / "m" / "requirements.txt").read_text().splitlines()
    assert f"scikit-learn=={sklearn.__version__}" in reqs
    assert f"skops=={skops.__version__}" in reqs
    assert f"numpy=={np.__version__}" in reqs and f"pandas=={pd.__version__}" in reqs
    env = yaml.safe_load((tmp_path / "m" / "python_env.yaml").read_text())
    assert env["python"] == platform.python_version()
    assert env["dependencies"] == ["-r requirements.txt"]


def test_explicit_signature_is_kept(tmp_path: Path) -> None:
    X = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": [0.0, 1.0, 0.0, 1.0]})
    sig = ModelSignature(inputs=[{"type": "double", "name": "a"}, {"type": "double", "name": "b"}])
    mltrail.sklearn.save_model(
        LinearRegression().fit(X, [1, 2, 3, 4]), tmp_path / "m", signature=sig
    )
    loaded = mltrail.pyfunc.load_model(tmp_path / "m")
    assert loaded.signature == sig
    # An array with the right number of columns is named by the signature.
    assert loaded.predict(np.ones((3, 2))).shape == (3,)
    assert loaded.predict(pd.DataFrame({"a": [1, 2], "b": [3, 4]})).shape == (2,)


def test_save_errors(tmp_path: Path) -> None:
    model = LinearRegression().fit(np.ones((3, 1)), [1, 2, 3])
    with pytest.raises(InvalidParameterValue, match="serialization_format"):
        mltrail.sklearn.save_model(model, tmp_path / "a", serialization_format="joblib")
    assert not (tmp_path / "a").exists()
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "f").write_text("x")
    with pytest.raises(ResourceAlreadyExists):
        mltrail.sklearn.save_model(model, tmp_path / "b")
    with pytest.raises(InvalidParameterValue, match="predict"):
        mltrail.sklearn.save_model(StandardScaler(), tmp_path / "c")


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(ResourceDoesNotExist):
        mltrail.pyfunc.load_model(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ResourceDoesNotExist, match="MLmodel"):
        mltrail.pyfunc.load_model(tmp_path / "empty")
    for malformed in ("models:/", "models:/a/b/c", "models:/a/", "models:/@x", "models:a"):
        with pytest.raises(InvalidParameterValue, match="models:/"):
            mltrail.pyfunc.load_model(malformed)
    with pytest.raises(InvalidParameterValue, match="runs:/"):
        mltrail.pyfunc.load_model("runs:/")


def test_hostile_mlmodel(tmp_path: Path) -> None:
    model = LinearRegression().fit(np.ones((3, 1)), [1, 2, 3])
    mltrail.sklearn.save_model(model, tmp_path / "m", serialization_format="pickle")
    mlmodel = tmp_path / "m" / "MLmodel"
    data = yaml.safe_load(mlmodel.read_text())
    # A model file may not name a file outside its folder ...
    (tmp_path / "evil.pkl").write_bytes(pickle.dumps(model))
    data["flavors"]["sklearn"]["pickled_model"] = "../evil.pkl"
    mlmodel.write_text(yaml.safe_dump(data))
    with pytest.raises(InvalidParameterValue, match="Invalid path"):
        mltrail.sklearn.load_model(tmp_path / "m")
    # ... nor make the loader import a module of its choosing.
    data["flavors"]["python_function"]["loader_module"] = "os"
    mlmodel.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigurationError, match="does not know"):
        mltrail.pyfunc.load_model(tmp_path / "m")
    mlmodel.write_text("flavors: [unclosed")
    with pytest.raises(InvalidParameterValue, match="MLmodel"):
        mltrail.pyfunc.load_model(tmp_path / "m")


def test_missing_optional_dependency_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = LinearRegression().fit(np.ones((3, 1)), [1, 2, 3])
    mltrail.sklearn.save_model(model, tmp_path / "m")
    # A None entry in sys.modules makes the import fail as if skops were not installed.
    monkeypatch.setitem(sys.modules, "skops.io", None)
    with pytest.raises(ConfigurationError, match=r"mltrail\[sklearn\]"):
        mltrail.sklearn.save_model(model, tmp_path / "n")
    with pytest.raises(ConfigurationError, match=r"mltrail\[sklearn\]"):
        mltrail.sklearn.load_model(tmp_path / "m")
    monkeypatch.setitem(sys.modules, "sklearn", None)
    with pytest.raises(ConfigurationError, match="scikit-learn is not installed"):
        mltrail.sklearn.save_model(model, tmp_path / "o", serialization_format="pickle")
