"""Which scikit-learn functions autologging wraps, and the wrappers of predictions and metrics.

Estimators are patched as their public modules load (a post-import hook), not by importing
all of scikit-learn up front: ``fit``, ``fit_transform`` and ``fit_predict`` log the
training; ``predict``, ``predict_proba``, ``predict_log_proba``, ``transform`` and
``score`` of a model fitted under autolog feed the post-training metrics; the functions of
``sklearn.metrics`` are wrapped for the same reason; ``cross_val_score`` and its kin run
their inner fits unlogged (as MLflow does). Preprocessing, imputation and feature
selection estimators are left alone unless a pipeline holds them.
"""

from __future__ import annotations

import inspect
import sys
import threading
from collections.abc import Callable
from types import ModuleType
from typing import Any

from mltrail.autologging.import_hooks import PostImportHook
from mltrail.autologging.patches import Patches
from mltrail.autologging.sklearn.post_training import POST
from mltrail.autologging.sklearn.session import logged_fit
from mltrail.autologging.state import BUSY, CURRENT, SklearnConfig, logger

FIT_METHODS = ("fit", "fit_transform", "fit_predict")
PREDICT_METHODS = ("predict", "predict_proba", "predict_log_proba", "transform")
_EXCLUDED_MODULES = (
    "sklearn.preprocessing",
    "sklearn.impute",
    "sklearn.feature_extraction",
    "sklearn.feature_selection",
)
_EXCLUDED_CLASSES = {"sklearn.compose._column_transformer.ColumnTransformer"}
_NOT_METRICS = {"check_scoring", "get_scorer", "make_scorer", "get_scorer_names"}
UNLOGGED_APIS = (
    "cross_validate",
    "cross_val_predict",
    "cross_val_score",
    "learning_curve",
    "permutation_test_score",
    "validation_curve",
)

_lock = threading.Lock()
_patches = Patches()
_hook: PostImportHook | None = None
_waiting: list[ModuleType] = []


def enable(config: SklearnConfig) -> None:
    global _hook
    with _lock:
        CURRENT.config = config
        if _hook is not None:
            return
        _hook = PostImportHook(_is_public_sklearn_module, patch_module)
        _hook.install()
        # dict.copy() is one C call: iterating the live dict can meet an import made by
        # another thread (or a finalizer run by the collector) and raise mid-loop.
        for name, module in sys.modules.copy().items():
            if module is not None and _is_public_sklearn_module(name):
                patch_module(module)


def disable() -> None:
    global _hook
    with _lock:
        CURRENT.config = None
        if _hook is not None:
            _hook.remove()
            _hook = None
        _patches.undo()


def _is_public_sklearn_module(name: str) -> bool:
    return (name == "sklearn" or name.startswith("sklearn.")) and not any(
        part.startswith("_") or part == "tests" for part in name.split(".")
    )


def patch_module(module: ModuleType) -> None:
    config = CURRENT.config
    if config is None:
        return
    name = module.__name__
    if name == "sklearn.metrics" and config.log_post_training_metrics:
        _patch_metrics(module)
    if name == "sklearn.model_selection":
        for api in UNLOGGED_APIS:
            _patches.function(module, api, _unlogged)
    base = getattr(sys.modules.get("sklearn.base"), "BaseEstimator", None)
    if base is None:
        # A module loaded while sklearn.base itself is loading: its estimators are patched
        # once sklearn.base is complete (its own hook call comes after).
        _waiting.append(module)
        return
    while _waiting:
        _patch_classes(_waiting.pop(), base)
    _patch_classes(module, base)


def _patch_classes(module: ModuleType, base: type) -> None:
    for cls in list(vars(module).values()):
        if _is_estimator(cls, base):
            patch_estimator(cls)


def _is_estimator(cls: Any, base: type) -> bool:
    if not isinstance(cls, type) or not issubclass(cls, base) or cls is base:
        return False
    qualified = f"{cls.__module__}.{cls.__name__}"
    return (
        not cls.__name__.startswith("_")
        and not inspect.isabstract(cls)
        and cls.__module__.startswith("sklearn.")
        and not cls.__module__.startswith(_EXCLUDED_MODULES)
        and qualified not in _EXCLUDED_CLASSES
    )


def patch_estimator(cls: type) -> None:
    for method in FIT_METHODS:
        _patches.method(cls, method, logged_fit)
    for method in PREDICT_METHODS:
        _patches.method(cls, method, _prediction)
    _patches.method(cls, "score", _score)


def _patch_metrics(metrics: ModuleType) -> None:
    for name in getattr(metrics, "__all__", ()):
        fn = getattr(metrics, name, None)
        if (
            name not in _NOT_METRICS
            and not name.startswith("plot_")
            and callable(fn)
            and not inspect.isclass(fn)
        ):
            _patches.function(metrics, name, _metric)


def _unlogged(original: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    with BUSY.scope():
        return original(*args, **kwargs)


def _prediction(
    original: Callable[..., Any], model: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    run_id = None if BUSY.active else POST.run_of(model)
    if run_id is None:
        return original(model, *args, **kwargs)
    with BUSY.scope():
        result = original(model, *args, **kwargs)
    try:
        data = args[0] if args else next(iter(kwargs.values()), None)
        # Frame 1 is the patched method, whose *args hold the data: the walk starts there.
        dataset = POST.dataset_name(run_id, data, frame=sys._getframe(1))
        POST.remember_prediction(result, dataset=dataset, run_id=run_id)
    except Exception as exc:
        logger.debug("mltrail autolog: prediction not tracked: %s", exc)
    return result


def _score(
    original: Callable[..., Any], model: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    run_id = None if BUSY.active else POST.run_of(model)
    if run_id is None:
        return original(model, *args, **kwargs)
    with BUSY.scope():
        value = original(model, *args, **kwargs)
    try:
        data = args[0] if args else kwargs.get("X")
        dataset = POST.dataset_name(run_id, data, frame=sys._getframe(1))
        _log_post_metric(run_id, f"{type(model).__name__}_score", dataset, value)
    except Exception as exc:
        logger.debug("mltrail autolog: score not logged: %s", exc)
    return value


def _metric(original: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    if BUSY.active:
        return original(*args, **kwargs)
    with BUSY.scope():
        value = original(*args, **kwargs)
    try:
        found = POST.prediction_in(args, kwargs)
        if found is not None:
            dataset, run_id = found
            _log_post_metric(run_id, original.__name__, dataset, value)
    except Exception as exc:
        logger.debug("mltrail autolog: metric not logged: %s", exc)
    return value


def _log_post_metric(run_id: str, metric: str, dataset: str, value: Any) -> None:
    if isinstance(value, bool) or not _is_number(value):
        return
    from mltrail.client.fluent.log_calls import log_metric

    log_metric(POST.metric_key(run_id, metric, dataset), float(value), run_id=run_id)


def _is_number(value: Any) -> bool:
    from numbers import Number

    return isinstance(value, Number)
