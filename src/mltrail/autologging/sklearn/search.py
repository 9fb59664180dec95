"""Hyper-parameter searches (``GridSearchCV``, ``RandomizedSearchCV``, ...): the best
candidate's params as ``best_<name>``, ``best_cv_score``, ``cv_results.csv`` and one child
run per candidate, the best-ranked first, up to ``max_tuning_runs``.

Child runs are created after the search (their start time is the parent's, as in MLflow,
since when each candidate ran is not known) and sent directly, not through the queue: each
needs its id before its values can be logged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from numbers import Number
from typing import Any

from mltrail.autologging.state import FLAVOR_TAG
from mltrail.client import context
from mltrail.client.batch_requests import send_batch
from mltrail.entities import Param, Run, RunStatus, RunTag
from mltrail.tracking_api import TrackingAPI

logger = logging.getLogger("mltrail.autolog")

CV_RESULTS_FILE = "cv_results.csv"


def is_search(estimator: Any) -> bool:
    from sklearn.model_selection._search import BaseSearchCV

    return isinstance(estimator, BaseSearchCV)


def best_params(estimator: Any) -> dict[str, Any]:
    found = getattr(estimator, "best_params_", None)
    return {f"best_{k}": v for k, v in found.items()} if isinstance(found, Mapping) else {}


def cv_results_csv(estimator: Any) -> str:
    import pandas as pd

    return str(pd.DataFrame(estimator.cv_results_).to_csv(index=False))


def ranked_candidates(cv_results: Mapping[str, Any], limit: int) -> list[int]:
    """Indices of the best ``limit`` candidates by the first ``rank_test_*`` column."""
    rank_key = "rank_test_score"
    if rank_key not in cv_results:
        rank_key = next((k for k in cv_results if k.startswith("rank_test_")), "")
    count = len(cv_results["params"])
    if not rank_key:
        return list(range(min(limit, count)))
    ranks = list(cv_results[rank_key])
    return sorted(range(count), key=lambda i: (ranks[i], i))[:limit]


def create_child_runs(
    backend: TrackingAPI,
    *,
    estimator: Any,
    parent: Run,
    limit: int,
    params_of: Callable[[Any], dict[str, str]],
    extra_tags: Mapping[str, str],
) -> int:
    """One finished child run per candidate among the best ``limit``; returns how many."""
    results = estimator.cv_results_
    chosen = ranked_candidates(results, limit)
    total = len(results["params"])
    if len(chosen) < total:
        logger.info(
            "mltrail autolog: child runs for the %d best of %d candidates", len(chosen), total
        )
    seed = estimator.estimator
    base = params_of(seed)
    tags = {
        **context.system_tags(),
        **extra_tags,
        FLAVOR_TAG: "sklearn",
        context.PARENT_RUN_ID: parent.info.run_id,
        "estimator_name": type(seed).__name__,
        "estimator_class": f"{type(seed).__module__}.{type(seed).__name__}",
    }
    now = time.time_ns() // 1_000_000
    for index in chosen:
        child = backend.create_run(
            parent.info.experiment_id,
            start_time=parent.info.start_time,
            tags=tags,
            user_id=tags.get(context.USER),
        )
        run_id = child.info.run_id
        if context.RUN_NAME not in child.data.tags and child.info.run_name:
            tags_out = [RunTag(context.RUN_NAME, child.info.run_name)]
        else:
            tags_out = []
        params = {**base, **{k: str(v) for k, v in results["params"][index].items()}}
        send_batch(
            backend,
            run_id,
            params=[Param(k, v) for k, v in params.items()],
            metrics={k: ([0], [now], [v]) for k, v in _row_metrics(results, index).items()},
            tags=tags_out,
        )
        backend.update_run(run_id, status=RunStatus.FINISHED, end_time=now)
    return len(chosen)


def _row_metrics(results: Mapping[str, Any], index: int) -> dict[str, float]:
    """Aggregate scores and times of one candidate (per-split values are left out)."""
    out: dict[str, float] = {}
    for key, column in results.items():
        if key.startswith(("param", "split")):
            continue
        try:
            value = column[index]
        except (TypeError, IndexError, KeyError):
            continue
        if isinstance(value, Number) and not isinstance(value, bool):
            out[key] = float(value)  # type: ignore[arg-type]
    return out
