"""Metrics of a fitted estimator on its training data, under MLflow's names.

Classifiers: ``training_accuracy_score``, ``training_precision_score``,
``training_recall_score``, ``training_f1_score`` (weighted averages, or binary with
``pos_label``), and with ``predict_proba`` ``training_log_loss`` and ``training_roc_auc``.
Regressors: ``training_mean_squared_error``, ``training_root_mean_squared_error``,
``training_mean_absolute_error``, ``training_r2_score``. Both: ``training_score``.
A metric that cannot be computed (one class, NaN predictions) is left out and named in
``skipped``; the others are still returned.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from typing import Any

PREFIX = "training_"

Skipped = list[tuple[str, BaseException]]


def training_metrics(
    estimator: Any, X: Any, y: Any, *, sample_weight: Any, pos_label: Any, skipped: Skipped
) -> dict[str, float]:
    from sklearn.base import is_classifier, is_regressor

    out: dict[str, float] = {}
    if y is None:
        return out
    if is_classifier(estimator):
        _classifier(estimator, X, y, sample_weight, pos_label, out, skipped)
    elif is_regressor(estimator):
        _regressor(estimator, X, y, sample_weight, out, skipped)
    if hasattr(estimator, "score"):
        weighted = sample_weight is not None and _accepts(estimator.score, "sample_weight")
        extra = {"sample_weight": sample_weight} if weighted else {}
        _compute(out, skipped, "score", lambda: estimator.score(X, y, **extra))
    return out


def _classifier(
    estimator: Any,
    X: Any,
    y: Any,
    sample_weight: Any,
    pos_label: Any,
    out: dict[str, float],
    skipped: Skipped,
) -> None:
    from sklearn import metrics

    try:
        y_pred = estimator.predict(X)
    except Exception as exc:
        skipped.append((PREFIX + "classifier metrics", exc))
        return
    average = "weighted" if pos_label is None else "binary"
    common = {"sample_weight": sample_weight}
    averaged = {"pos_label": pos_label, "average": average, **common}
    if pos_label is None:
        averaged.pop("pos_label")
    for name, fn in (
        ("precision_score", metrics.precision_score),
        ("recall_score", metrics.recall_score),
        ("f1_score", metrics.f1_score),
    ):
        _compute(out, skipped, name, _bind(fn, y, y_pred, averaged))
    _compute(out, skipped, "accuracy_score", _bind(metrics.accuracy_score, y, y_pred, common))
    if not hasattr(estimator, "predict_proba"):
        return
    try:
        proba = estimator.predict_proba(X)
    except Exception as exc:
        skipped.append((PREFIX + "log_loss", exc))
        skipped.append((PREFIX + "roc_auc", exc))
        return
    _compute(out, skipped, "log_loss", _bind(metrics.log_loss, y, proba, common))
    score = proba[:, 1] if getattr(proba, "ndim", 0) == 2 and proba.shape[1] == 2 else proba
    auc_args = {"average": "weighted", "multi_class": "ovo", **common}
    _compute(out, skipped, "roc_auc", _bind(metrics.roc_auc_score, y, score, auc_args))


def _regressor(
    estimator: Any, X: Any, y: Any, sample_weight: Any, out: dict[str, float], skipped: Skipped
) -> None:
    from sklearn import metrics

    try:
        y_pred = estimator.predict(X)
    except Exception as exc:
        skipped.append((PREFIX + "regressor metrics", exc))
        return
    args = {"sample_weight": sample_weight, "multioutput": "uniform_average"}
    _compute(out, skipped, "mean_squared_error", _bind(metrics.mean_squared_error, y, y_pred, args))
    mse = out.get(PREFIX + "mean_squared_error")
    if mse is not None:
        out[PREFIX + "root_mean_squared_error"] = math.sqrt(mse) if mse >= 0 else math.nan
    _compute(
        out, skipped, "mean_absolute_error", _bind(metrics.mean_absolute_error, y, y_pred, args)
    )
    _compute(out, skipped, "r2_score", _bind(metrics.r2_score, y, y_pred, args))


def _bind(fn: Callable[..., Any], y: Any, pred: Any, kwargs: dict[str, Any]) -> Callable[[], Any]:
    return lambda: fn(y, pred, **kwargs)


def _compute(out: dict[str, float], skipped: Skipped, name: str, fn: Callable[[], Any]) -> None:
    try:
        value = float(fn())
    except Exception as exc:
        skipped.append((PREFIX + name, exc))
        return
    out[PREFIX + name] = value


def _accepts(fn: Callable[..., Any], name: str) -> bool:
    try:
        return name in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
