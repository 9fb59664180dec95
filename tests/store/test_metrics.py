"""Chunked metric series on every backend: ordering, non-finite values, compaction, paging."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event, func, select

from mltrail.entities import Metric
from mltrail.service.tracking import TrackingService
from mltrail.store.schema import metric_chunks, metric_summaries
from mltrail.store.sql import SqlTrackingStore
from mltrail.store.sql.metrics import (
    COMPACT_AT_CHUNKS,
    MIN_SMALL_TO_MERGE,
    SMALL_CHUNK_POINTS,
    _chunks_to_merge,
)
from mltrail.wire import columns_of


def _chunk_count(store: SqlTrackingStore, run_id: str, key: str) -> int:
    with store.engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(metric_chunks)
                .where(metric_chunks.c.run_id == run_id, metric_chunks.c["key"] == key)
            ).scalar_one()
        )


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def test_history_is_ordered_by_step_then_timestamp(service: TrackingService, run_id: str) -> None:
    service.log_batch(
        run_id, metrics=columns_of([Metric("m", 3.0, 30, 3), Metric("m", 1.0, 11, 1)])
    )
    service.log_batch(
        run_id, metrics=columns_of([Metric("m", 0.5, 10, 1), Metric("m", -2.0, 5, -2)])
    )
    history = service.get_metric_history(run_id, key="m")
    assert [(m.step, m.timestamp, m.value) for m in history] == [
        (-2, 5, -2.0),
        (1, 10, 0.5),
        (1, 11, 1.0),
        (3, 30, 3.0),
    ]
    assert history.token is None
    assert service.get_metric_history(run_id, key="other") == []


def test_non_finite_values_are_faithful(service: TrackingService, run_id: str) -> None:
    values = [
        math.nan,
        math.inf,
        -math.inf,
        1.5,
        -0.0,
        2.2250738585072014e-308,
        5e-324,
        0.1 + 0.2,
        1 / 3,
        1.7976931348623157e308,
    ]
    service.log_batch(
        run_id, metrics=columns_of([Metric(f"k{i}", v, 1, 0) for i, v in enumerate(values)])
    )
    service.log_batch(
        run_id, metrics=columns_of([Metric("series", v, i, i) for i, v in enumerate(values)])
    )
    latest = service.get_run(run_id).data.metrics
    for i, v in enumerate(values):
        assert _same(latest[f"k{i}"], v)
        (point,) = service.get_metric_history(run_id, key=f"k{i}")
        assert _same(point.value, v)
    history = [m.value for m in service.get_metric_history(run_id, key="series")]
    assert all(_same(a, b) for a, b in zip(history, values, strict=True))
    # Chunks keep the exact bits, even of subnormals that MySQL's DOUBLE cannot hold.
    service.log_batch(run_id, metrics=columns_of([Metric("tiny", 5e-324, 1, 0)]))
    assert service.get_metric_history(run_id, key="tiny")[0].value == 5e-324
    summary = {s.key: s for s in service.get_metric_summaries(run_id)}["series"]
    assert summary.min == -math.inf and summary.max == math.inf and summary.count == len(values)
    nan_only = {s.key: s for s in service.get_metric_summaries(run_id)}["k0"]
    assert nan_only.min is None and nan_only.max is None


def test_latest_value_rule(service: TrackingService, run_id: str) -> None:
    # max by step, then timestamp, then value; NaN loses the value tie-break.
    service.log_batch(
        run_id, metrics=columns_of([Metric("a", 5.0, 100, 2), Metric("a", 9.0, 50, 1)])
    )
    service.log_batch(
        run_id, metrics=columns_of([Metric("a", 1.0, 100, 2), Metric("a", math.nan, 100, 2)])
    )
    assert service.get_run(run_id).data.metrics["a"] == 5.0
    service.log_batch(run_id, metrics=columns_of([Metric("a", 0.0, 101, 2)]))
    summary = service.get_metric_summaries(run_id)[0]
    assert (summary.value, summary.timestamp, summary.step) == (0.0, 101, 2)
    assert (summary.min, summary.max, summary.count) == (0.0, 9.0, 5)


def test_many_small_writes_are_compacted(
    service: TrackingService, store: SqlTrackingStore, run_id: str
) -> None:
    n = COMPACT_AT_CHUNKS * 3 + 5
    for i in range(n):
        service.log_batch(
            run_id, metrics=columns_of([Metric("loss", float(n - i), 1000 + i, n - i)])
        )
        assert _chunk_count(store, run_id, "loss") <= COMPACT_AT_CHUNKS
    history = service.get_metric_history(run_id, key="loss")
    assert [m.step for m in history] == list(range(1, n + 1))
    with store.engine.connect() as conn:
        row = conn.execute(select(metric_summaries)).one()
    assert row.chunk_count == _chunk_count(store, run_id, "loss")
    assert row._mapping["count"] == n


def test_history_paging(service: TrackingService, run_id: str) -> None:
    service.log_batch(run_id, metrics=columns_of([Metric("m", float(i), i, i) for i in range(25)]))
    steps: list[int] = []
    token = None
    pages = 0
    while True:
        page = service.get_metric_history(run_id, key="m", max_results=10, page_token=token)
        steps += [m.step for m in page]
        pages += 1
        token = page.token
        if token is None:
            break
    assert steps == list(range(25)) and pages == 3


def test_sampled_history_keeps_spikes(service: TrackingService, run_id: str) -> None:
    n = 10_000
    values = [math.sin(i / 100) for i in range(n)]
    values[4321] = 1000.0
    values[7777] = -1000.0
    service.log_batch(
        run_id, metrics=columns_of([Metric("m", v, i, i) for i, v in enumerate(values)])
    )
    sampled = service.get_metric_history_sampled(run_id, key="m", max_points=100)
    assert len(sampled) <= 100
    steps = [m.step for m in sampled]
    assert steps == sorted(steps)
    assert steps[0] == 0 and steps[-1] == n - 1
    assert 4321 in steps and 7777 in steps
    window = service.get_metric_history_sampled(
        run_id, key="m", max_points=50, start_step=4000, end_step=5000
    )
    assert window[0].step == 4000 and window[-1].step == 5000 and len(window) <= 50
    assert 4321 in [m.step for m in window]
    small = service.get_metric_history_sampled(run_id, key="m", max_points=20000)
    assert len(small) == n


@pytest.fixture
def statements(store: SqlTrackingStore) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(args[2])

    event.listen(store.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(store.engine, "before_cursor_execute", record)


def test_big_batch_is_a_handful_of_statements(
    service: TrackingService, store: SqlTrackingStore, run_id: str, statements: list[str]
) -> None:
    n = 100_000
    service.log_batch(
        run_id, metrics=columns_of([Metric("loss", i * 0.5, 10 + i, i) for i in range(n)])
    )
    assert len(statements) <= 12, statements
    assert _chunk_count(store, run_id, "loss") == 1
    history = service.get_metric_history(run_id, key="loss")
    assert len(history) == n
    assert history[12345] == Metric("loss", 12345 * 0.5, 10 + 12345, 12345)


def test_merges_are_size_tiered() -> None:
    singles = [(i, 1) for i in range(100, 100 + MIN_SMALL_TO_MERGE)]
    # The singles, then each tier no bigger than twice what is picked before it; not the
    # chunk past that, nor a big one.
    chunks = [*singles, (1, 8), (2, 30), (3, 5000), (4, SMALL_CHUNK_POINTS)]
    assert sorted(_chunks_to_merge(chunks)) == [1, 2, *range(100, 100 + MIN_SMALL_TO_MERGE)]
    assert _chunks_to_merge([*singles[:-1], (3, 5000)]) == []


def test_single_point_writes_rewrite_each_point_a_few_times() -> None:
    """Replays the merge policy over 50,000 one-point writes of one series."""
    chunks: dict[int, int] = {}
    rewritten = 0
    for next_id in range(50_000):
        chunks[next_id] = 1
        if len(chunks) > COMPACT_AT_CHUNKS and len(chunks) % MIN_SMALL_TO_MERGE == 1:
            picked = _chunks_to_merge(list(chunks.items()))
            merged = sum(chunks.pop(chunk_id) for chunk_id in picked)
            if picked:
                chunks[-next_id] = merged
                rewritten += merged
        assert len(chunks) <= 2 * COMPACT_AT_CHUNKS
    assert sum(chunks.values()) == 50_000
    assert rewritten / 50_000 < 12  # merging every small chunk each time: ~500
