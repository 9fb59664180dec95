"""MLflow's metric-history routes: ``metrics/get-history``, and the two bulk reads of the web UI.

``get-history-bulk`` (ajax only) returns the whole histories of several runs in one list;
``get-history-bulk-interval`` returns at most ``max_results`` points per run, chosen the way
MLflow 3.17's SQL store chooses them (see :func:`sample_like_mlflow`). Both read a run's
history through the permission-checked tracking service: a run that does not exist, or
that the caller may not read, contributes no points, as in MLflow.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from mltrail.entities import Metric
from mltrail.errors import InvalidParameterValue, ResourceDoesNotExist
from mltrail.server.api.mlflow import codec
from mltrail.server.api.mlflow.routing import Call, MlflowRouter
from mltrail.server.api.mlflow.runs import run_id_of
from mltrail.server.api.mlflow.schema import (
    INT,
    REQUIRED,
    STRING,
    STRING_ITEMS,
    between,
    count_at_most,
)
from mltrail.tracking_api import TrackingAPI

_router = MlflowRouter()

HISTORY_PAGE_MAX = 25_000
BULK_MAX_RUNS = 100
BULK_MAX_RESULTS = 25_000
INTERVAL_MAX_RUNS = 100
INTERVAL_MAX_RESULTS = 2500


def router() -> MlflowRouter:
    return _router


@_router.rpc(
    "GET",
    "/mlflow/metrics/get-history",
    access="run:read",
    schema=(
        ("run_id", STRING, REQUIRED),
        ("metric_key", STRING, REQUIRED),
        ("page_token", STRING),
    ),
)
def get_metric_history(call: Call) -> dict[str, Any]:
    args = call.args
    requested = args.integer("max_results", HISTORY_PAGE_MAX)
    if requested < 1:
        raise InvalidParameterValue(
            f"Invalid value {requested} for parameter 'max_results' supplied. "
            "It must be a positive integer."
        )
    page = call.tracking.get_metric_history(
        run_id_of(args),
        key=args.required_string("metric_key"),
        max_results=min(requested, HISTORY_PAGE_MAX),
        page_token=args.optional_string("page_token") or None,
    )
    return codec.paged("metrics", [codec.metric(m) for m in page], page.token)


def _history(tracking: TrackingAPI, run_id: str, key: str) -> list[Metric]:
    """The run's whole history of ``key``; nothing for a run the caller cannot see."""
    try:
        return list(tracking.get_metric_history(run_id, key=key))
    except ResourceDoesNotExist:
        return []


def _order_value(value: float) -> float:
    # MLflow's metrics table stores NaN as 0 (with an is_nan flag) and clamps infinities.
    if math.isnan(value):
        return 0.0
    return max(-codec.MAX_DOUBLE, min(codec.MAX_DOUBLE, value))


@_router.rpc("GET", "/mlflow/metrics/get-history-bulk", access="run:read", api=False)
def get_metric_history_bulk(call: Call) -> dict[str, Any]:
    args = call.args
    run_ids = args.string_list("run_id")
    if not run_ids:
        raise InvalidParameterValue(
            "GetMetricHistoryBulk request must specify at least one run_id."
        )
    if len(run_ids) > BULK_MAX_RUNS:
        raise InvalidParameterValue(
            f"GetMetricHistoryBulk request cannot specify more than {BULK_MAX_RUNS} run_ids. "
            f"Received {len(run_ids)} run_ids."
        )
    key = args.optional_string("metric_key")
    if key is None:
        raise InvalidParameterValue("GetMetricHistoryBulk request must specify a metric_key.")
    max_results = min(args.integer("max_results", BULK_MAX_RESULTS), BULK_MAX_RESULTS)
    out: list[dict[str, Any]] = []
    # MLflow's order: run id, then timestamp, step and value.
    for run_id in sorted(set(run_ids)):
        if len(out) >= max_results:
            break
        points = sorted(
            _history(call.tracking, run_id, key),
            key=lambda m: (m.timestamp, m.step, _order_value(m.value)),
        )
        out.extend(codec.metric(m, run_id=run_id) for m in points)
    return {"metrics": out[: max(max_results, 0)]}


def _interval_key(m: Metric) -> tuple[int, int, float, bool]:
    return (m.step, m.timestamp, _order_value(m.value), math.isnan(m.value))


def sample_like_mlflow(points: Sequence[Metric], max_results: int) -> list[Metric]:
    """At most ``max_results`` points, evenly spread, as MLflow's SQL store picks them.

    The points are ordered by (step, timestamp, value, is-NaN) and cut into ``max_results``
    buckets the way SQL's NTILE does (the first ``len % max_results`` buckets one point
    larger); the first point of each bucket is kept, and the last point replaces the last
    pick (or is added, when fewer than ``max_results`` were picked) so that the range ends
    where the history does.
    """
    wanted = max(1, max_results)
    ordered = sorted(points, key=_interval_key)
    total = len(ordered)
    if total <= wanted:
        return ordered
    size, larger = divmod(total, wanted)
    starts = [i * (size + 1) if i < larger else larger + i * size for i in range(wanted)]
    picked = [ordered[i] for i in starts]
    last = ordered[-1]
    if _interval_key(picked[-1]) != _interval_key(last):
        if len(picked) >= wanted:
            picked[-1] = last
        else:
            picked.append(last)
    return picked


@_router.rpc(
    "GET",
    "/mlflow/metrics/get-history-bulk-interval",
    access="run:read",
    schema=(
        (
            "run_ids",
            REQUIRED,
            STRING_ITEMS,
            count_at_most(
                INTERVAL_MAX_RUNS,
                message=lambda n: (
                    "GetMetricHistoryBulkInterval request must specify at most "
                    f"{INTERVAL_MAX_RUNS} run_ids. Received {n} run_ids."
                ),
            ),
        ),
        ("metric_key", REQUIRED, STRING),
        ("start_step", INT),
        ("end_step", INT),
        (
            "max_results",
            INT,
            between(
                1,
                INTERVAL_MAX_RESULTS,
                message=f"max_results must be between 1 and {INTERVAL_MAX_RESULTS}.",
            ),
        ),
    ),
)
def get_metric_history_bulk_interval(call: Call) -> dict[str, Any]:
    args = call.args
    key = args.required_string("metric_key")
    max_results = args.integer("max_results", INTERVAL_MAX_RESULTS)
    start_step = args.optional_integer("start_step")
    end_step = args.optional_integer("end_step")
    if start_step is not None and end_step is not None:
        if start_step > end_step:
            raise InvalidParameterValue(
                "end_step must be greater than start_step. "
                f"Found start_step={start_step} and end_step={end_step}."
            )
    elif start_step is not None or end_step is not None:
        raise InvalidParameterValue(
            "If either start step or end step are specified, both must be specified."
        )
    out: list[dict[str, Any]] = []
    for run_id in args.string_list("run_ids"):
        points = _history(call.tracking, run_id, key)
        if start_step is not None and end_step is not None:
            points = [m for m in points if start_step <= m.step <= end_step]
        out.extend(codec.metric(m, run_id=run_id) for m in sample_like_mlflow(points, max_results))
    return codec.compact({"metrics": out})
