"""Autologging for scikit-learn: ``mltrail.sklearn.autolog()``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mltrail.autologging.state import SklearnConfig
from mltrail.errors import InvalidParameterValue

SERIALIZATION_FORMATS = ("skops", "pickle")


def autolog(
    log_input_examples: bool = True,
    *,
    log_model_signatures: bool = True,
    log_models: bool = True,
    disable: bool = False,
    exclusive: bool = False,
    silent: bool = False,
    max_tuning_runs: int | None = None,
    log_post_training_metrics: bool = True,
    serialization_format: str = "skops",
    registered_model_name: str | None = None,
    pos_label: Any = None,
    extra_tags: Mapping[str, Any] | None = None,
) -> None:
    """Log every scikit-learn ``fit`` without logging code: params, training metrics, the model.

    ``fit``, ``fit_transform`` and ``fit_predict`` of estimators, pipelines and searches log
    their params (nested ones as ``step__param``), training metrics (``training_accuracy_score``,
    ``training_mean_squared_error``, ...) and the fitted model (skops, with its signature and an
    input example). Afterwards, ``model.score(X_test, y)`` and ``sklearn.metrics`` calls on the
    model's predictions are logged as ``<name>_<dataset>``. Searches add ``best_<param>``
    params, ``best_cv_score``, ``cv_results.csv`` and a child run for each of the
    ``max_tuning_runs`` best candidates (``None``: the ``MLTRAIL_AUTOLOG_MAX_TUNING_RUNS``
    setting, 5 by default). A run is started when none is active and ended after ``fit``.
    ``disable=True`` undoes the patching. Logging problems are warnings (none with
    ``silent=True``); ``fit`` itself is never changed.
    """
    from mltrail.autologging.sklearn import patching

    if disable:
        patching.disable()
        return
    if max_tuning_runs is not None and (
        isinstance(max_tuning_runs, bool)
        or not isinstance(max_tuning_runs, int)
        or max_tuning_runs < 0
    ):
        raise InvalidParameterValue(
            f"max_tuning_runs must be a whole number of 0 or more, got {max_tuning_runs!r}"
        )
    if serialization_format not in SERIALIZATION_FORMATS:
        raise InvalidParameterValue(
            f"Unknown serialization_format {serialization_format!r}; use one of "
            f"{list(SERIALIZATION_FORMATS)}"
        )
    patching.enable(
        SklearnConfig(
            log_input_examples=log_input_examples,
            log_model_signatures=log_model_signatures,
            log_models=log_models,
            exclusive=exclusive,
            silent=silent,
            max_tuning_runs=max_tuning_runs,
            log_post_training_metrics=log_post_training_metrics,
            serialization_format=serialization_format,
            registered_model_name=registered_model_name,
            pos_label=pos_label,
            extra_tags={str(k): str(v) for k, v in (extra_tags or {}).items()},
        )
    )
