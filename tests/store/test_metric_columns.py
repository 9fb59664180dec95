"""log_batch takes metric points as columns: rows converted at the edge (``columns_of``) and
columns built directly are stored alike and refused alike, with the same errors, on every
backend."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from mltrail.entities import Metric
from mltrail.errors import InvalidParameterValue
from mltrail.service.tracking import TrackingService
from mltrail.tracking_api import MetricColumns
from mltrail.wire import columns_of


def _columns(metrics: list[Metric]) -> dict[str, tuple[list[int], list[int], list[float]]]:
    out: dict[str, tuple[list[int], list[int], list[float]]] = {}
    for m in metrics:
        col = out.setdefault(m.key, ([], [], []))
        col[0].append(m.step)
        col[1].append(m.timestamp)
        col[2].append(m.value)
    return out


def _history(service: TrackingService, run_id: str, key: str) -> list[tuple[int, int, str]]:
    # repr() makes NaN comparable.
    return [
        (m.step, m.timestamp, repr(m.value)) for m in service.get_metric_history(run_id, key=key)
    ]


def test_same_series_and_summaries_as_log_batch(service: TrackingService) -> None:
    exp = service.create_experiment("cols")
    by_objects = service.create_run(exp).info.run_id
    by_columns = service.create_run(exp).info.run_id
    batches = [
        [Metric("a", 1.0, 10, 3), Metric("b", math.nan, 11, 0), Metric("a", -2.5, 5, 1)],
        [Metric("a", math.inf, 12, 2), Metric("b", -math.inf, 13, 0), Metric("a", 7.0, 4, 1)],
        [Metric("c", 3, 1, -(2**63)), Metric("c", 4.0, 2**62, 2**63 - 1)],
    ]
    for batch in batches:
        service.log_batch(by_objects, metrics=columns_of(batch))
        service.log_batch(by_columns, metrics=_columns(batch))
    for key in ("a", "b", "c"):
        assert _history(service, by_columns, key) == _history(service, by_objects, key)
    summaries = {
        s.key: (s.count, s.step, s.timestamp, repr(s.value), s.min, s.max)
        for s in service.get_metric_summaries(by_columns)
    }
    expected = {
        s.key: (s.count, s.step, s.timestamp, repr(s.value), s.min, s.max)
        for s in service.get_metric_summaries(by_objects)
    }
    assert summaries == expected
    assert _history(service, by_columns, "a")[0] == (1, 4, "7.0")


BAD_POINTS = [
    Metric("m", True, 1, 0),
    Metric("m", "1.0", 1, 0),  # type: ignore[arg-type]
    Metric("m", None, 1, 0),  # type: ignore[arg-type]
    Metric("m", 1.0, -1, 0),
    Metric("m", 1.0, 1.5, 0),  # type: ignore[arg-type]
    Metric("m", 1.0, 2**63, 0),
    Metric("m", 1.0, 1, 2**63),
    Metric("m", 1.0, 1, -(2**63) - 1),
    Metric("m", 1.0, 1, "3"),  # type: ignore[arg-type]
    Metric("bad$name", 1.0, 1, 0),
    Metric("/abs", 1.0, 1, 0),
    Metric("", 1.0, 1, 0),
]


@pytest.mark.parametrize("bad", BAD_POINTS, ids=repr)
def test_same_errors_as_log_batch(service: TrackingService, run_id: str, bad: Metric) -> None:
    batch = [Metric("ok", 1.0, 1, 0), Metric(bad.key, 2.0, 2, 1), bad]
    with pytest.raises(InvalidParameterValue) as by_objects:
        service.log_batch(run_id, metrics=columns_of(batch))
    with pytest.raises(InvalidParameterValue) as by_columns:
        service.log_batch(run_id, metrics=_columns(batch))
    assert by_columns.value.message == by_objects.value.message
    assert service.get_metric_summaries(run_id) == []


@pytest.mark.parametrize(
    "columns",
    [
        {"m": ([0, 1], [1], [1.0, 2.0])},
        {"m": ([0], [1], [1.0, 2.0])},
        {"m": ([0], [1])},
        {"m": "not columns"},
    ],
)
def test_malformed_columns_are_refused(service: TrackingService, run_id: str, columns: Any) -> None:
    with pytest.raises(InvalidParameterValue, match="Invalid columns for metric 'm'"):
        service.log_batch(run_id, metrics=columns)


def test_batch_limit_and_idempotency(service: TrackingService, run_id: str) -> None:
    n = service.limits.max_metrics + 1
    too_many: MetricColumns = {"m": ([0] * n, [1] * n, [0.5] * n)}
    with pytest.raises(InvalidParameterValue, match="at most 100000 metrics"):
        service.log_batch(run_id, metrics=too_many)
    columns: MetricColumns = {"m": ([0, 1, 2], [5, 5, 5], [1.0, 2.0, 3.0])}
    service.log_batch(run_id, metrics=columns, idempotency_key="once")
    service.log_batch(run_id, metrics=columns, idempotency_key="once")
    assert [s.count for s in service.get_metric_summaries(run_id)] == [3]


def test_numbers_of_other_types_are_stored_as_plain_numbers(
    service: TrackingService, run_id: str
) -> None:
    columns: Any = {"m": ([np.int64(1), 2], [np.int32(7), 8], [np.float32(0.5), 1])}
    service.log_batch(run_id, metrics=columns)
    assert _history(service, run_id, "m") == [(1, 7, "0.5"), (2, 8, "1.0")]


def test_an_integer_beyond_the_float_range_is_refused(
    service: TrackingService, run_id: str
) -> None:
    with pytest.raises(InvalidParameterValue, match="out of the floating-point range"):
        service.log_batch(run_id, metrics={"m": ([0, 1], [1, 1], [1.0, 10**400])})
    assert service.get_metric_summaries(run_id) == []
