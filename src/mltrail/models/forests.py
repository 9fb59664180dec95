"""Predicting with a scikit-learn forest without joblib's per-call cost.

``RandomForestRegressor.predict`` on one row takes about 10 ms on this machine's 100-tree
models, of which the trees themselves take under 3: the rest is joblib setting up a
``Parallel`` call and a lock for every request, even with ``n_jobs=None``. A scoring server
answering one row at a time pays that on every request. Here the same steps run in the same
order (the forest's own input validation, each tree's ``predict``/``predict_proba``
accumulated into float64 zeros in tree order, then divided by the number of trees), so the
predictions are the same bits as the forest's own ``predict``.

Only the exact forest classes, fitted with ``n_jobs`` None or 1 and one output for the
classifiers, take this path; anything else, or anything unexpected on the way (a private
method gone in another scikit-learn version), falls back to the estimator's own ``predict``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

_REGRESSORS = ("RandomForestRegressor", "ExtraTreesRegressor")
_CLASSIFIERS = ("RandomForestClassifier", "ExtraTreesClassifier")


def forest_predictor(model: Any) -> Callable[[Any], Any] | None:
    """A function that predicts as ``model.predict`` does, faster; None when ``model`` is not
    a forest this module handles."""
    cls = type(model)
    if not cls.__module__.startswith("sklearn.ensemble"):
        return None
    if getattr(model, "n_jobs", None) not in (None, 1):
        return None
    if not hasattr(model, "estimators_") or not hasattr(model, "_validate_X_predict"):
        return None
    if cls.__name__ in _REGRESSORS:
        return lambda data: _regress(model, data)
    if cls.__name__ in _CLASSIFIERS and getattr(model, "n_outputs_", 0) == 1:
        return lambda data: _classify(model, data)
    return None


def _regress(model: Any, data: Any) -> Any:
    X = model._validate_X_predict(data)
    shape = (X.shape[0], model.n_outputs_) if model.n_outputs_ > 1 else (X.shape[0],)
    out = np.zeros(shape, dtype=np.float64)
    for tree in model.estimators_:
        out += tree.predict(X, check_input=False)
    out /= len(model.estimators_)
    return out


def _classify(model: Any, data: Any) -> Any:
    X = model._validate_X_predict(data)
    proba = np.zeros((X.shape[0], model.n_classes_), dtype=np.float64)
    for tree in model.estimators_:
        proba += tree.predict_proba(X, check_input=False)
    proba /= len(model.estimators_)
    return model.classes_.take(np.argmax(proba, axis=1), axis=0)
