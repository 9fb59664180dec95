"""One autologged ``fit`` (or ``fit_transform``/``fit_predict``): what is logged, in order.

Before training: the params (``get_params(deep=True)``, nested ones as ``step__param``; a
search's own params only) and the ``estimator_name``/``estimator_class`` tags. After: the
training metrics, a search's extras, and the model (skops, with signature and input
example). A run is started when none is active (tagged ``mlflow.autologging=sklearn``)
and ended after; an active run is reused and left open.

The user's ``fit`` always runs once, with its result and its exception unchanged. Anything
autologging cannot do is collected and said in one warning per fit; training goes on.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable
from typing import Any

from mltrail.autologging.sklearn import search
from mltrail.autologging.sklearn.post_training import POST
from mltrail.autologging.sklearn.training_metrics import Skipped, training_metrics
from mltrail.autologging.state import BUSY, FLAVOR_TAG, SklearnConfig, config, quiet, warn
from mltrail.entities import Param, RunTag
from mltrail.errors import MltrailError

logger = logging.getLogger("mltrail.autolog")

MAX_PARAM_VALUE = 6000  # the tracking server's limit; longer values are cut, as MLflow does
MAX_KEY = 250
EXAMPLE_ROWS = 5


def logged_fit(
    original: Callable[..., Any], estimator: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    cfg = config()
    if cfg is None or BUSY.active:
        return original(estimator, *args, **kwargs)
    with BUSY.scope():
        return _fit(cfg, original, estimator, args, kwargs)


def _fit(
    cfg: SklearnConfig,
    original: Callable[..., Any],
    estimator: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    from mltrail.client.fluent.runs import active_run

    if cfg.exclusive and active_run() is not None:
        return original(estimator, *args, **kwargs)
    skipped: Skipped = []
    opened = _open_run(cfg, skipped)
    if opened is None:
        _report(estimator, skipped)
        return original(estimator, *args, **kwargs)
    run_id, started = opened
    X, y, sample_weight = _fit_inputs(original, estimator, args, kwargs)
    example = _head(X)
    with quiet():
        _guarded(skipped, "params", lambda: _log_params_and_tags(estimator, run_id, started))
    try:
        result = original(estimator, *args, **kwargs)
    except BaseException:
        if started:
            _close(run_id, "FAILED", skipped)
        _report(estimator, skipped)
        raise
    with quiet():
        _guarded(
            skipped,
            "training metrics",
            lambda: _log_after(cfg, estimator, X, y, sample_weight, example, run_id, skipped),
        )
    if cfg.log_post_training_metrics:
        POST.remember_model(estimator, run_id)
    if started:
        _close(run_id, "FINISHED", skipped)
    _report(estimator, skipped)
    return result


def _open_run(cfg: SklearnConfig, skipped: Skipped) -> tuple[str, bool] | None:
    from mltrail.client.fluent.runs import active_run, start_run

    current = active_run()
    if current is not None:
        return current.info.run_id, False
    try:
        run = start_run(tags={**cfg.extra_tags, FLAVOR_TAG: "sklearn"})
    except Exception as exc:
        skipped.append(("the run (nothing was logged)", exc))
        return None
    return run.info.run_id, True


def _close(run_id: str, status: str, skipped: Skipped) -> None:
    from mltrail.client.fluent.runs import end_run_by_id

    _guarded(skipped, "the end of the run", lambda: end_run_by_id(run_id, status))


def _log_params_and_tags(estimator: Any, run_id: str, queued: bool) -> None:
    deep = not search.is_search(estimator)
    cls = type(estimator)
    tags = {"estimator_name": cls.__name__, "estimator_class": f"{cls.__module__}.{cls.__name__}"}
    log_params(run_id, _param_strings(estimator.get_params(deep=deep)), queued=queued, tags=tags)


def log_params(
    run_id: str, params: dict[str, str], *, queued: bool, tags: dict[str, str] | None = None
) -> None:
    """Into a run autolog started: through the queue. Into the user's run: sent now, so that a
    clash with a value already there is a warning during ``fit`` and not an error at the
    user's ``end_run``; if the server cannot be reached, queued (and spooled) after all."""
    from mltrail.client.batch_requests import is_transient, send_batch
    from mltrail.client.fluent.log_calls import log_params as queue_params
    from mltrail.client.fluent.log_calls import set_tags
    from mltrail.client.fluent.runs import target_run

    if not queued:
        backend, _ = target_run(run_id)
        try:
            send_batch(
                backend,
                run_id,
                params=[Param(k, v) for k, v in params.items()],
                tags=[RunTag(k, v) for k, v in (tags or {}).items()],
            )
            return
        except MltrailError as exc:
            if not is_transient(exc):
                raise
    queue_params(params, run_id=run_id)
    if tags:
        set_tags(tags, run_id=run_id)


def _param_strings(params: dict[str, Any]) -> dict[str, str]:
    return {str(k): str(v)[:MAX_PARAM_VALUE] for k, v in params.items() if len(str(k)) <= MAX_KEY}


def _log_after(
    cfg: SklearnConfig,
    estimator: Any,
    X: Any,
    y: Any,
    sample_weight: Any,
    example: Any,
    run_id: str,
    skipped: Skipped,
) -> None:
    from mltrail.client.fluent.log_calls import log_metrics

    metrics = training_metrics(
        estimator, X, y, sample_weight=sample_weight, pos_label=cfg.pos_label, skipped=skipped
    )
    if search.is_search(estimator):
        _log_search(cfg, estimator, run_id, skipped, metrics)
    if metrics:
        log_metrics(metrics, run_id=run_id)
    if cfg.log_models:
        log_model(cfg, estimator, "model", example, skipped)
        if search.is_search(estimator) and hasattr(estimator, "best_estimator_"):
            log_model(cfg, estimator.best_estimator_, "best_estimator", example, skipped)


def _log_search(
    cfg: SklearnConfig, estimator: Any, run_id: str, skipped: Skipped, metrics: dict[str, float]
) -> None:
    from mltrail.client.fluent.runs import get_run, target_run
    from mltrail.client.fluent.state import current_client, current_settings

    score = getattr(estimator, "best_score_", None)
    if isinstance(score, int | float):
        metrics["best_cv_score"] = float(score)
    best = _param_strings(search.best_params(estimator))
    if best:
        _guarded(skipped, "best params", lambda: log_params(run_id, best, queued=False))
    if not hasattr(estimator, "cv_results_"):
        return
    _guarded(
        skipped,
        search.CV_RESULTS_FILE,
        lambda: current_client().log_text(
            run_id, search.cv_results_csv(estimator), search.CV_RESULTS_FILE
        ),
    )
    limit = cfg.max_tuning_runs
    if limit is None:
        limit = current_settings().autolog_max_tuning_runs

    def children() -> None:
        backend, _ = target_run(run_id)
        search.create_child_runs(
            backend,
            estimator=estimator,
            parent=get_run(run_id),
            limit=limit,
            params_of=lambda seed: _param_strings(seed.get_params(deep=not search.is_search(seed))),
            extra_tags=cfg.extra_tags,
        )

    if limit > 0:
        _guarded(skipped, "child runs", children)


def log_model(
    cfg: SklearnConfig, estimator: Any, name: str, example: Any, skipped: Skipped
) -> None:
    if not hasattr(estimator, "predict"):
        logger.debug("mltrail autolog: %s has no predict method; no model logged", estimator)
        return
    from mltrail.models.signature import infer_signature
    from mltrail.models.sklearn import log_model as log_sklearn_model

    signature = None
    input_example = example if cfg.log_input_examples else None
    if input_example is None and example is not None and cfg.log_model_signatures:
        try:
            signature = infer_signature(example, estimator.predict(example))
        except Exception as exc:
            logger.debug("mltrail autolog: no signature for %s: %s", name, exc)
    try:
        log_sklearn_model(
            estimator,
            name,
            input_example=input_example,
            signature=signature,
            serialization_format=cfg.serialization_format,
            registered_model_name=cfg.registered_model_name,
        )
    except Exception as exc:
        hint = ""
        if cfg.serialization_format == "skops" and not isinstance(exc, MltrailError):
            hint = ": skops could not save it (autolog(serialization_format='pickle') can)"
        skipped.append((f"the model '{name}'{hint}", exc))


def _guarded(skipped: Skipped, what: str, work: Callable[[], Any]) -> None:
    try:
        work()
    except Exception as exc:
        skipped.append((what, exc))


def _report(estimator: Any, skipped: Skipped) -> None:
    if not skipped:
        return
    details = "; ".join(f"{what} ({type(exc).__name__}: {_short(exc)})" for what, exc in skipped)
    warn("mltrail autolog: %s: not logged: %s", type(estimator).__name__, details)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else ""


@functools.cache
def _signature(fit: Callable[..., Any]) -> inspect.Signature | None:
    try:
        return inspect.signature(fit)
    except (TypeError, ValueError):
        return None


def _fit_inputs(
    original: Callable[..., Any], estimator: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Any, Any, Any]:
    """``X``, ``y`` and ``sample_weight`` as the fit method names them (any may be None)."""
    sig = _signature(original)
    if sig is None:
        return (args[0] if args else None), (args[1] if len(args) > 1 else None), None
    try:
        bound = sig.bind_partial(estimator, *args, **kwargs).arguments
    except TypeError:
        return None, None, None
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    names = [n for n, p in sig.parameters.items() if p.kind in positional][1:3]
    X = bound.get(names[0]) if names else None
    y = bound.get(names[1]) if len(names) > 1 else None
    weight = bound.get("sample_weight")
    if weight is None:
        for name, value in bound.items():
            if sig.parameters[name].kind is inspect.Parameter.VAR_KEYWORD:
                weight = value.get("sample_weight")
    return X, y, weight


def _head(X: Any) -> Any:
    """The first rows of ``X`` as an input example, copied before ``fit`` can change them."""
    if X is None:
        return None
    kind = type(X).__module__.split(".", 1)[0]
    try:
        if kind == "pandas" and hasattr(X, "iloc") and getattr(X, "ndim", 0) == 2:
            return X.iloc[:EXAMPLE_ROWS].copy()
        if kind == "numpy" and getattr(X, "ndim", 0) == 2:
            return X[:EXAMPLE_ROWS].copy()
        if isinstance(X, list) and X and isinstance(X[0], list | tuple):
            return [list(row) for row in X[:EXAMPLE_ROWS]]
    except Exception as exc:
        logger.debug("mltrail autolog: no input example: %s", exc)
    return None
