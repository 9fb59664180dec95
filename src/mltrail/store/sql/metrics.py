"""Metric series stored as chunks of packed arrays, plus one summary row per (run, key).

A logged batch becomes one chunk per (run, key) (split only past
``MAX_POINTS_PER_CHUNK``), so 100,000 points cost a handful of statements.
Points inside a chunk are sorted by step, then timestamp. One-point writes
create one-point chunks; once a series has more than ``COMPACT_AT_CHUNKS``
chunks, every ``MIN_SMALL_TO_MERGE`` writes merge small chunks in the same
transaction, so reads touch few rows. Merges are size-tiered (see
``_chunks_to_merge``): a point is rewritten a few times over the life of a
series, not once per merge, and big chunks are never rewritten.

Latest value: max by step, then timestamp, then value, where NaN counts as
the smallest value for the tie-break. min/max ignore NaN. Summary columns hold
finite stand-ins for non-finite values (see ``mltrail.store.schema``): the
latest value is exact thanks to ``value_kind``; min/max read back
``+-1.7976931348623157e308`` as ``+-inf`` (a logged value of exactly the
largest double is indistinguishable there, a documented limitation).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, Row, bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from mltrail.entities import Metric, MetricSummary
from mltrail.store.schema import FINITE, NAN, NEG_INF, POS_INF, metric_chunks, metric_summaries
from mltrail.store.sql.engine import RetryableConflict
from mltrail.store.sql.prepared import Prepared
from mltrail.wire import gc_paused

DBL_MAX = 1.7976931348623157e308
MAX_POINTS_PER_CHUNK = 250_000
COMPACT_AT_CHUNKS = 32
SMALL_CHUNK_POINTS = 16_384
MIN_SMALL_TO_MERGE = 16

I64 = np.dtype("<i8")
F64 = np.dtype("<f8")

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

_mc = metric_chunks.c
_ms = metric_summaries.c


@dataclass(frozen=True)
class Series:
    """Points of one series, sorted by step then timestamp (stable)."""

    steps: IntArray
    timestamps: IntArray
    values: FloatArray

    def __len__(self) -> int:
        return int(self.steps.shape[0])

    def take(self, index: Any) -> Series:
        return Series(self.steps[index], self.timestamps[index], self.values[index])

    def to_metrics(self, key: str) -> list[Metric]:
        # Allocating 100k objects triggers many cyclic-GC passes that find nothing;
        # pausing the collector roughly halves the cost of a large history read.
        with gc_paused(len(self) > 10_000):
            return [
                Metric(key, v, t, s)
                for v, t, s in zip(
                    self.values.tolist(), self.timestamps.tolist(), self.steps.tolist(), strict=True
                )
            ]


def sorted_series(steps: IntArray, timestamps: IntArray, values: FloatArray) -> Series:
    if _in_order(steps, timestamps):
        # The usual batch: a training loop logs steps in order; no sort, no copies.
        return Series(steps, timestamps, values)
    order = np.lexsort((timestamps, steps))
    return Series(steps[order], timestamps[order], values[order])


def _in_order(steps: IntArray, timestamps: IntArray) -> bool:
    """Whether the points are already sorted by step, then timestamp (a linear check)."""
    if steps.shape[0] < 2:
        return True
    step_up = np.diff(steps)
    if (step_up > 0).all():
        return True
    return bool(((step_up > 0) | ((step_up == 0) & (np.diff(timestamps) >= 0))).all())


# -- summary value encoding ----------------------------------------------------


def encode_value(value: float) -> tuple[float | None, int]:
    if math.isnan(value):
        return None, NAN
    if value == math.inf:
        return DBL_MAX, POS_INF
    if value == -math.inf:
        return -DBL_MAX, NEG_INF
    return value, FINITE


def decode_value(stored: float | None, kind: int) -> float:
    if kind == NAN or stored is None:
        return math.nan
    if kind == POS_INF:
        return math.inf
    if kind == NEG_INF:
        return -math.inf
    return float(stored)


def _encode_bound(value: float | None) -> float | None:
    if value is None:
        return None
    return max(-DBL_MAX, min(DBL_MAX, value))


def decode_bound(stored: float | None) -> float | None:
    if stored is None:
        return None
    if stored >= DBL_MAX:
        return math.inf
    if stored <= -DBL_MAX:
        return -math.inf
    return float(stored)


def _order_value(value: float) -> float:
    return -math.inf if math.isnan(value) else value


@dataclass
class _Summary:
    value: float
    step: int
    timestamp: int
    min: float | None
    max: float | None
    count: int
    chunk_count: int

    @classmethod
    def from_row(cls, row: Row[Any]) -> _Summary:
        return cls.from_values(
            row.value,
            row.value_kind,
            row.step,
            row.timestamp,
            row.min_value,
            row.max_value,
            # Row is a sequence: ``row.count`` would be the tuple method.
            row._mapping["count"],
            row.chunk_count,
        )

    @classmethod
    def from_values(
        cls,
        value: float | None,
        value_kind: int,
        step: int,
        timestamp: int,
        min_value: float | None,
        max_value: float | None,
        count: int,
        chunk_count: int,
    ) -> _Summary:
        return cls(
            value=decode_value(value, int(value_kind)),
            step=int(step),
            timestamp=int(timestamp),
            min=decode_bound(min_value),
            max=decode_bound(max_value),
            count=int(count),
            chunk_count=int(chunk_count),
        )

    @classmethod
    def of_series(cls, series: Series) -> _Summary:
        if len(series) == 1:
            # One log_metric call: numpy's reductions cost more than the point itself.
            value = float(series.values[0])
            bound = None if math.isnan(value) else value
            return cls(
                value=value,
                step=int(series.steps[0]),
                timestamp=int(series.timestamps[0]),
                min=bound,
                max=bound,
                count=1,
                chunk_count=0,
            )
        order_values = np.where(np.isnan(series.values), -np.inf, series.values)
        last = int(np.lexsort((order_values, series.timestamps, series.steps))[-1])
        not_nan = series.values[~np.isnan(series.values)]
        return cls(
            value=float(series.values[last]),
            step=int(series.steps[last]),
            timestamp=int(series.timestamps[last]),
            min=float(not_nan.min()) if not_nan.size else None,
            max=float(not_nan.max()) if not_nan.size else None,
            count=len(series),
            chunk_count=0,
        )

    def merged(self, other: _Summary) -> _Summary:
        mine = (self.step, self.timestamp, _order_value(self.value))
        theirs = (other.step, other.timestamp, _order_value(other.value))
        latest = other if theirs > mine else self
        return _Summary(
            value=latest.value,
            step=latest.step,
            timestamp=latest.timestamp,
            min=_opt(min, self.min, other.min),
            max=_opt(max, self.max, other.max),
            count=self.count + other.count,
            chunk_count=self.chunk_count + other.chunk_count,
        )

    def columns(self) -> dict[str, Any]:
        stored, kind = encode_value(self.value)
        return {
            "value": stored,
            "value_kind": kind,
            "step": self.step,
            "timestamp": self.timestamp,
            "min_value": _encode_bound(self.min),
            "max_value": _encode_bound(self.max),
            "count": self.count,
            "chunk_count": self.chunk_count,
        }

    def to_entity(self, key: str) -> MetricSummary:
        return MetricSummary(
            key=key,
            value=self.value,
            timestamp=self.timestamp,
            step=self.step,
            min=self.min,
            max=self.max,
            count=self.count,
        )


def _opt(pick: Any, a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return float(pick(a, b))


# -- writes ----------------------------------------------------------------------


def _chunk_rows(run_id: str, key: str, series: Series) -> list[dict[str, Any]]:
    rows = []
    for start in range(0, len(series), MAX_POINTS_PER_CHUNK):
        part = series.take(slice(start, start + MAX_POINTS_PER_CHUNK))
        rows.append(
            {
                "run_id": run_id,
                "key": key,
                "count": len(part),
                "min_step": int(part.steps[0]),
                "max_step": int(part.steps[-1]),
                "steps": part.steps.astype(I64, copy=False).tobytes(),
                "timestamps": part.timestamps.astype(I64, copy=False).tobytes(),
                "values": part.values.astype(F64, copy=False).tobytes(),
            }
        )
    return rows


def _repeats_latest(summary: _Summary | None, series: Series) -> bool:
    """One point identical (step, timestamp, value; NaN equal to NaN) to the series' latest.

    MLflow keeps one row per identical point, and its client re-sends a ``log_metric`` whose
    answer was lost (a server restarted under the request): such a repeat is the latest
    point of its series, and is not stored twice. Summaries are read ``FOR UPDATE``, so two
    concurrent repeats cannot both pass.
    """
    if summary is None or len(series) != 1:
        return False
    value = float(series.values[0])
    same_value = value == summary.value or (math.isnan(value) and math.isnan(summary.value))
    return (
        same_value
        and int(series.steps[0]) == summary.step
        and int(series.timestamps[0]) == summary.timestamp
    )


def append_series(conn: Connection, run_id: str, groups: dict[str, Series]) -> None:
    """Append sorted series per key and update the summaries (in the caller's transaction)."""
    if not groups:
        return
    existing = _load_summaries(conn, run_id, list(groups), for_update=True)
    chunk_rows: list[dict[str, Any]] = []
    new_summaries: dict[str, _Summary] = {}
    for key, series in groups.items():
        if _repeats_latest(existing.get(key), series):
            continue
        rows = _chunk_rows(run_id, key, series)
        chunk_rows.extend(rows)
        summary = _Summary.of_series(series)
        summary.chunk_count = len(rows)
        old = existing.get(key)
        new_summaries[key] = old.merged(summary) if old else summary
    if chunk_rows:
        _INSERT_CHUNK.execute_many(conn, chunk_rows)
    for key, summary in new_summaries.items():
        if (
            summary.chunk_count > COMPACT_AT_CHUNKS
            and summary.chunk_count % MIN_SMALL_TO_MERGE == 1
        ):
            summary.chunk_count = _compact(conn, run_id, key)
    _write_summaries(conn, run_id, new_summaries, existing_keys=set(existing))


def _write_summaries(
    conn: Connection, run_id: str, summaries: dict[str, _Summary], *, existing_keys: set[str]
) -> None:
    updates = [
        {"b_run": run_id, "b_key": key, **s.columns()}
        for key, s in summaries.items()
        if key in existing_keys
    ]
    inserts = [
        {"run_id": run_id, "key": key, **s.columns()}
        for key, s in summaries.items()
        if key not in existing_keys
    ]
    if updates:
        _UPDATE_SUMMARY.execute_many(conn, updates)
    if inserts:
        try:
            with conn.begin_nested():
                conn.execute(insert(metric_summaries), inserts)
        except IntegrityError as exc:
            # A concurrent writer created the same summary row first.
            raise RetryableConflict(str(exc)) from exc


def _compact(conn: Connection, run_id: str, key: str) -> int:
    """Merge the series' chunks that ``_chunks_to_merge`` picks; its chunk count after."""
    rows = conn.execute(
        select(_mc.chunk_id, _mc["count"]).where(_mc.run_id == run_id, _mc["key"] == key)
    ).all()
    small = _chunks_to_merge([(chunk_id, count) for chunk_id, count in rows])
    if not small:
        return len(rows)
    merged = _read_chunks(conn, _mc.chunk_id.in_(small))
    conn.execute(delete(metric_chunks).where(_mc.chunk_id.in_(small)))
    new_rows = _chunk_rows(run_id, key, merged)
    _INSERT_CHUNK.execute_many(conn, new_rows)
    return len(rows) - len(small) + len(new_rows)


def _chunks_to_merge(chunks: Sequence[tuple[int, int]]) -> list[int]:
    """Ids of the chunks to merge: the smallest, each at most twice all smaller ones together.

    Merging every small chunk each time rewrote the whole growing merged chunk every few
    writes (quadratic in the series length up to ``SMALL_CHUNK_POINTS``). Tiers of
    doubling size rewrite each point about log2(SMALL_CHUNK_POINTS / MIN_SMALL_TO_MERGE)
    times in all, like a binary counter.
    """
    picked: list[int] = []
    total = 0
    for count, chunk_id in sorted((count, chunk_id) for chunk_id, count in chunks):
        if count >= SMALL_CHUNK_POINTS or (picked and count > 2 * total):
            break
        picked.append(chunk_id)
        total += count
    return picked if len(picked) >= MIN_SMALL_TO_MERGE else []


# -- reads -----------------------------------------------------------------------


def _read_chunks(conn: Connection, *conditions: Any) -> Series:
    rows = conn.execute(
        select(_mc.steps, _mc.timestamps, _mc["values"]).where(*conditions).order_by(_mc.chunk_id)
    ).all()
    if not rows:
        empty_i = np.empty(0, dtype=np.int64)
        return Series(empty_i, empty_i, np.empty(0, dtype=np.float64))
    steps = np.concatenate([np.frombuffer(r.steps, dtype=I64) for r in rows])
    timestamps = np.concatenate([np.frombuffer(r.timestamps, dtype=I64) for r in rows])
    values = np.concatenate([np.frombuffer(r[2], dtype=F64) for r in rows])
    if len(rows) == 1:
        return Series(
            steps.astype(np.int64), timestamps.astype(np.int64), values.astype(np.float64)
        )
    return sorted_series(
        steps.astype(np.int64), timestamps.astype(np.int64), values.astype(np.float64)
    )


def read_series(
    conn: Connection,
    run_id: str,
    key: str,
    *,
    start_step: int | None = None,
    end_step: int | None = None,
) -> Series:
    """Every point of the series (optionally within [start_step, end_step]), sorted."""
    conditions = [_mc.run_id == run_id, _mc["key"] == key]
    if start_step is not None:
        conditions.append(_mc.max_step >= start_step)
    if end_step is not None:
        conditions.append(_mc.min_step <= end_step)
    series = _read_chunks(conn, *conditions)
    if start_step is not None or end_step is not None:
        lo = start_step if start_step is not None else np.iinfo(np.int64).min
        hi = end_step if end_step is not None else np.iinfo(np.int64).max
        series = series.take((series.steps >= lo) & (series.steps <= hi))
    return series


def downsample(series: Series, max_points: int) -> Series:
    """At most ``max_points`` points keeping the first, the last, and min/max per step bucket.

    The series is sorted by step, so each bucket is a contiguous slice and its min and max
    come from ``reduceat`` in linear time (a sort of a noisy million-point series took
    ~0.4 s). Ties go to the first point for the min and the last for the max; a bucket
    holding NaN keeps its last NaN as its "max", so gaps stay visible.
    """
    n = len(series)
    if n <= max_points:
        return series
    if max_points <= 2:
        return series.take(np.array([0, n - 1][: max(0, max_points)], dtype=np.int64))
    buckets = (max_points - 2) // 2
    inner = np.arange(1, n - 1)
    steps = series.steps[1:-1].astype(np.float64)
    lo, hi = float(series.steps[0]), float(series.steps[-1])
    span = hi - lo
    if span <= 0:
        bucket = (inner - 1) * buckets // max(1, n - 2)
    else:
        bucket = np.minimum(((steps - lo) / span * buckets).astype(np.int64), buckets - 1)
    values = series.values[1:-1]
    starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
    lengths = np.diff(np.r_[starts, len(values)])
    nan = np.isnan(values)
    with np.errstate(invalid="ignore"):
        seg_min = np.repeat(np.fmin.reduceat(values, starts), lengths)
        seg_max = np.repeat(np.fmax.reduceat(values, starts), lengths)
    seg_nan = np.repeat(np.logical_or.reduceat(nan, starts), lengths)
    is_min = (values == seg_min) | (np.isnan(seg_min) & nan)
    is_max = np.where(seg_nan, nan, values == seg_max)
    mins = np.flatnonzero(is_min)
    first = np.r_[True, bucket[mins][1:] != bucket[mins][:-1]]
    maxs = np.flatnonzero(is_max)
    last = np.r_[bucket[maxs][1:] != bucket[maxs][:-1], True]
    keep = np.concatenate(([0], inner[mins[first]], inner[maxs[last]], [n - 1]))
    return series.take(np.unique(keep))


# Built once (the logging hot path runs them on every request).
_CHUNK_COLUMNS = ("run_id", "key", "count", "min_step", "max_step", "steps", "timestamps", "values")
_INSERT_CHUNK = Prepared(insert(metric_chunks), column_keys=_CHUNK_COLUMNS)
_SUMMARIES_OF_RUN = select(metric_summaries).where(_ms.run_id == bindparam("run_id"))
_SUMMARIES_OF_KEYS = _SUMMARIES_OF_RUN.where(_ms["key"].in_(bindparam("keys", expanding=True)))
_SUMMARIES_OF_KEYS_FOR_UPDATE = _SUMMARIES_OF_KEYS.with_for_update()
# The per-request logging path (see ``prepared``): one key's summary, chunk inserts and
# summary updates. Summary columns are selected in ``_Summary.from_values`` order.
_SUMMARY_COLUMNS = (
    _ms["key"],
    _ms.value,
    _ms.value_kind,
    _ms.step,
    _ms.timestamp,
    _ms.min_value,
    _ms.max_value,
    _ms["count"],
    _ms.chunk_count,
)
_SUMMARY_OF_KEY = Prepared(
    select(*_SUMMARY_COLUMNS)
    .where(_ms.run_id == bindparam("run_id"), _ms["key"] == bindparam("key"))
    .with_for_update()
)
_UPDATE_SUMMARY = Prepared(
    update(metric_summaries)
    .where(_ms.run_id == bindparam("b_run"), _ms["key"] == bindparam("b_key"))
    .values(
        {
            name: bindparam(name)
            for name in (
                "value",
                "value_kind",
                "step",
                "timestamp",
                "min_value",
                "max_value",
                "count",
                "chunk_count",
            )
        }
    )
)


def _load_summaries(
    conn: Connection, run_id: str, keys: Iterable[str] | None, *, for_update: bool = False
) -> dict[str, _Summary]:
    params: dict[str, Any] = {"run_id": run_id}
    if keys is None:
        stmt = _SUMMARIES_OF_RUN.with_for_update() if for_update else _SUMMARIES_OF_RUN
    else:
        keys = list(keys)
        if for_update and len(keys) == 1:
            rows = _SUMMARY_OF_KEY.fetch(conn, {"run_id": run_id, "key": keys[0]})
            return {row[0]: _Summary.from_values(*row[1:]) for row in rows}
        stmt = _SUMMARIES_OF_KEYS_FOR_UPDATE if for_update else _SUMMARIES_OF_KEYS
        params["keys"] = keys
    return {row.key: _Summary.from_row(row) for row in conn.execute(stmt, params)}


def summaries(conn: Connection, run_id: str) -> list[MetricSummary]:
    loaded = _load_summaries(conn, run_id, None)
    return [loaded[k].to_entity(k) for k in sorted(loaded)]


# Bound parameters per IN list: SQLite allows 32,766 but older builds only 999.
IN_CHUNK = 900


def summaries_of_runs(conn: Connection, run_ids: Sequence[str]) -> dict[str, list[MetricSummary]]:
    """run_id -> its summaries sorted by key, in one query per 900 runs (a page of runs)."""
    out: dict[str, list[MetricSummary]] = {rid: [] for rid in run_ids}
    unique = list(out)
    for start in range(0, len(unique), IN_CHUNK):
        stmt = (
            select(metric_summaries)
            .where(_ms.run_id.in_(unique[start : start + IN_CHUNK]))
            .order_by(_ms.run_id, _ms["key"])
        )
        for row in conn.execute(stmt):
            out[row.run_id].append(_Summary.from_row(row).to_entity(row.key))
    return out
