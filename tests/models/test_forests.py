"""Forests predict through mltrail's pyfunc exactly as their own ``predict`` does."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    GradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)

from mltrail.models.forests import forest_predictor

RNG = np.random.default_rng(7)
X = pd.DataFrame(RNG.normal(size=(300, 6)), columns=[f"f{i}" for i in range(6)])
Y = X.to_numpy() @ RNG.normal(size=6)


@pytest.mark.parametrize(
    ("model", "target"),
    [
        (RandomForestRegressor(n_estimators=30, max_depth=6, random_state=0), Y),
        (ExtraTreesRegressor(n_estimators=30, random_state=0), Y),
        (RandomForestRegressor(n_estimators=20, random_state=0), np.c_[Y, -Y]),
        (RandomForestClassifier(n_estimators=30, random_state=0), (Y > 0).astype(int)),
        (ExtraTreesClassifier(n_estimators=30, random_state=0), np.where(Y > 0.5, "hi", "lo")),
    ],
    ids=["rf-regressor", "et-regressor", "rf-two-outputs", "rf-classifier", "et-labels"],
)
def test_the_same_bits_as_the_forests_own_predict(model: Any, target: Any) -> None:
    model.fit(X, target)
    predict = forest_predictor(model)
    assert predict is not None
    for rows in (X.iloc[:1], X.iloc[:257]):
        ours, theirs = predict(rows), model.predict(rows)
        assert ours.dtype == theirs.dtype
        assert np.array_equal(ours, theirs)
    model.fit(X.to_numpy(), target)  # fitted and asked without column names
    predict = forest_predictor(model)
    assert predict is not None
    assert np.array_equal(predict(X.to_numpy()[:5]), model.predict(X.to_numpy()[:5]))


def test_wrong_input_fails_as_the_forest_itself_does() -> None:
    model = RandomForestRegressor(n_estimators=5, random_state=0).fit(X, Y)
    predict = forest_predictor(model)
    assert predict is not None
    for bad in (X.iloc[:1, :5], X.iloc[:1].rename(columns={"f0": "zz"})):
        with pytest.raises(ValueError) as ours:
            predict(bad)
        with pytest.raises(ValueError) as theirs:
            model.predict(bad)
        assert str(ours.value) == str(theirs.value)


def test_other_models_keep_their_own_predict() -> None:
    assert forest_predictor(GradientBoostingRegressor(n_estimators=5).fit(X, Y)) is None
    assert forest_predictor(RandomForestRegressor(n_estimators=5, n_jobs=2).fit(X, Y)) is None
    assert forest_predictor(RandomForestRegressor()) is None  # not fitted: sklearn says so
    two = RandomForestClassifier(n_estimators=5).fit(X, np.c_[Y > 0, Y > 1])
    assert forest_predictor(two) is None
