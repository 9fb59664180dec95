"""The fluent API's metric, param and tag calls.

They enqueue into the background queue (see :mod:`mltrail.client.batching`) unless
synchronous mode is on (``set_synchronous(True)``, ``MLTRAIL_SYNCHRONOUS=true`` or
``synchronous=True`` on the call), in which case they send immediately and raise at the
call site.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from mltrail.client.batch_requests import MAX_PARAMS_TAGS_PER_BATCH, send_batch
from mltrail.client.batching import METRIC, PARAM, TAG, get_queue
from mltrail.client.fluent.runs import known_params, target_run
from mltrail.client.fluent.state import is_synchronous
from mltrail.client.metric_values import metric_number
from mltrail.entities import (
    Param,
    RunTag,
)
from mltrail.errors import InvalidParameterValue, ParamOverwrite
from mltrail.wire import columns_of


def log_metric(
    key: str,
    value: float,
    step: int | None = None,
    *,
    timestamp: int | None = None,
    synchronous: bool | None = None,
    run_id: str | None = None,
) -> None:
    """Log one metric value (``step`` defaults to 0, ``timestamp`` to now in ms)."""
    backend, rid = target_run(run_id)
    if type(key) is not str:
        raise InvalidParameterValue(f"Metric key must be a string, got {type(key).__name__}")
    number = metric_number(key, value)
    ts = time.time_ns() // 1_000_000 if timestamp is None else int(timestamp)
    if step is None:
        step = 0
    elif type(step) is not int:
        step = _int_step(step, key)
    if is_synchronous(synchronous):
        send_batch(backend, rid, metrics={key: ([step], [ts], [number])})
    else:
        get_queue().put((METRIC, backend, rid, key, number, ts, step))


def _int_step(step: Any, key: str) -> int:
    from mltrail.client.tracking_client import make_metric

    return make_metric(key, 0.0, timestamp=0, step=step).step


def log_metrics(
    metrics: Mapping[str, float],
    step: int | None = None,
    *,
    timestamp: int | None = None,
    synchronous: bool | None = None,
    run_id: str | None = None,
) -> None:
    """Log several metrics at one step and one timestamp."""
    from mltrail.client.tracking_client import make_metric

    backend, rid = target_run(run_id)
    ts = time.time_ns() // 1_000_000 if timestamp is None else int(timestamp)
    points = [make_metric(k, v, timestamp=ts, step=step) for k, v in metrics.items()]
    if is_synchronous(synchronous):
        send_batch(backend, rid, metrics=columns_of(points))
        return
    queue = get_queue()
    for m in points:
        queue.put((METRIC, backend, rid, m.key, m.value, m.timestamp, m.step))


def log_param(
    key: str, value: Any, *, synchronous: bool | None = None, run_id: str | None = None
) -> Any:
    """Log a param (its value is stored as ``str(value)``; params are write-once). Returns value."""
    _log_strings(PARAM, {key: value}, synchronous=synchronous, run_id=run_id)
    return value


def log_params(
    params: Mapping[str, Any], *, synchronous: bool | None = None, run_id: str | None = None
) -> None:
    _log_strings(PARAM, params, synchronous=synchronous, run_id=run_id)


def set_tag(
    key: str, value: Any, *, synchronous: bool | None = None, run_id: str | None = None
) -> None:
    _log_strings(TAG, {key: value}, synchronous=synchronous, run_id=run_id)


def set_tags(
    tags: Mapping[str, Any], *, synchronous: bool | None = None, run_id: str | None = None
) -> None:
    _log_strings(TAG, tags, synchronous=synchronous, run_id=run_id)


def _log_strings(
    kind: int, values: Mapping[str, Any], *, synchronous: bool | None, run_id: str | None
) -> None:
    what = "Param" if kind == PARAM else "Tag"
    for key in values:
        if not isinstance(key, str):
            raise InvalidParameterValue(f"{what} key must be a string, got {type(key).__name__}")
    backend, rid = target_run(run_id)
    strings = {k: str(v) for k, v in values.items()}
    known = known_params(rid) if kind == PARAM else None
    if known is not None:
        for key, value in strings.items():
            old = known.get(key)
            if old is not None and old != value:
                raise ParamOverwrite.changing(key=key, old=old, new=value, run_id=rid)
    if is_synchronous(synchronous):
        # To the backend the run lives on (even if the default tracking URI changed since),
        # in requests of at most MLflow's 100 params or tags.
        items = list(strings.items())
        for start in range(0, len(items), MAX_PARAMS_TAGS_PER_BATCH):
            part = items[start : start + MAX_PARAMS_TAGS_PER_BATCH]
            if kind == PARAM:
                send_batch(backend, rid, params=[Param(k, v) for k, v in part])
            else:
                send_batch(backend, rid, tags=[RunTag(k, v) for k, v in part])
        if known is not None:
            known.update(strings)
        return
    queue = get_queue()
    for k, v in strings.items():
        queue.put((kind, backend, rid, k, v))
    if known is not None:
        known.update(strings)


def delete_tag(key: str) -> None:
    """Delete a tag of the active run (after what is queued for it has been sent)."""
    backend, rid = target_run(None)
    get_queue().flush(run_id=rid)
    backend.delete_tag(rid, key=key)


def flush(timeout: float | None = None) -> None:
    """Wait until every queued value has been sent; raise the first background error kept."""
    get_queue().flush(timeout)
