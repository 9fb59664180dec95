"""Parsing the bulk-logging body by hand: 100,000 points must parse in a few tens of ms,
which pydantic validation of one object per point does not allow.

Accepted shapes (see ``schemas.BatchIn``)::

    {"metrics": {"loss": {"steps": [...], "timestamps": [...], "values": [...]}, ...},
     "params": {"lr": "0.1"} | [{"key": "lr", "value": "0.1"}],
     "tags": {...} | [...],
     "idempotency_key": "..."}

``metrics`` may also be a list of points ``{"key", "value", "timestamp", "step"}``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from mltrail.entities import Metric, Param, RunTag
from mltrail.errors import InvalidParameterValue
from mltrail.wire import (
    ColumnLists,
    columns_of,
    decode_json,
    float_in,
    floats_in,
    gc_paused,
    point_count,
)

MAX_POINTS = 100_000
MAX_PARAMS_AND_TAGS = 10_000
MAX_IDEMPOTENCY_KEY = 128
_TOP_LEVEL = frozenset({"metrics", "params", "tags", "idempotency_key"})


Columns = ColumnLists
_INT = frozenset({int})
_FLOAT = frozenset({float})


@dataclass(frozen=True)
class ParsedBatch:
    """The metrics as columns per key, whichever shape they came in."""

    columns: Columns
    params: list[Param]
    tags: list[RunTag]
    idempotency_key: str | None

    @property
    def points(self) -> int:
        return point_count(self.columns)


def parse_batch(raw: bytes, *, header_key: str | None) -> ParsedBatch:
    with gc_paused():
        return _parse(raw, header_key=header_key)


def _parse(raw: bytes, *, header_key: str | None) -> ParsedBatch:
    body = decode_json(raw) if raw else {}
    if not isinstance(body, dict):
        raise InvalidParameterValue("The batch must be a JSON object")
    unknown = set(body) - _TOP_LEVEL
    if unknown:
        raise InvalidParameterValue(f"Unknown fields in the batch: {sorted(unknown)}")
    now = int(time.time() * 1000)
    raw_metrics = body.get("metrics")
    if isinstance(raw_metrics, dict):
        columns = _columnar(raw_metrics, now=now)
    else:
        # The list-of-points shape: rows become columns here, at the edge.
        columns = columns_of(_metrics(raw_metrics, now=now))
    params = [Param(k, v) for k, v in _pairs(body.get("params"), field="params")]
    tags = [RunTag(k, v) for k, v in _pairs(body.get("tags"), field="tags")]
    if len(params) + len(tags) > MAX_PARAMS_AND_TAGS:
        raise InvalidParameterValue(
            f"A batch holds at most {MAX_PARAMS_AND_TAGS} params and tags together"
        )
    key = body.get("idempotency_key") or header_key
    if key is not None and (not isinstance(key, str) or not key or len(key) > MAX_IDEMPOTENCY_KEY):
        raise InvalidParameterValue(
            f"Invalid value for 'idempotency_key': expected a string of 1 to "
            f"{MAX_IDEMPOTENCY_KEY} characters"
        )
    return ParsedBatch(columns=columns, params=params, tags=tags, idempotency_key=key)


def _metrics(value: Any, *, now: int) -> list[Metric]:
    if value is None:
        return []
    if isinstance(value, list):
        return _points(value, now=now)
    raise InvalidParameterValue(
        "Invalid value for 'metrics': expected an object of columns per key or a list of points"
    )


def _int_column(column: Any, *, field: str, n: int, default: int) -> list[int]:
    if column is None:
        return [default] * n
    if not isinstance(column, list) or len(column) != n:
        raise InvalidParameterValue(
            f"Invalid value for '{field}': expected a list of {n} integers (one per value)"
        )
    # One C-level pass over the column's types; the slow scan only finds the culprit.
    if n and set(map(type, column)) != _INT:
        bad = next(x for x in column if type(x) is not int)
        raise InvalidParameterValue(f"Invalid value for '{field}': {bad!r} is not an integer")
    return column


def _columnar(columns: dict[str, Any], *, now: int) -> Columns:
    total = 0
    out: Columns = {}
    for key, series in columns.items():
        if not key:
            raise InvalidParameterValue("Invalid value for 'metrics': a metric key is empty")
        if not isinstance(series, dict) or not isinstance(series.get("values"), list):
            raise InvalidParameterValue(
                f"Invalid value for 'metrics.{key}': expected {{'values': [...], "
                "'steps': [...], 'timestamps': [...]}"
            )
        extra = set(series) - {"values", "steps", "timestamps"}
        if extra:
            raise InvalidParameterValue(f"Unknown fields in 'metrics.{key}': {sorted(extra)}")
        values = series["values"]
        if values and set(map(type, values)) != _FLOAT:
            values = floats_in(values, field=f"metrics.{key}.values")
        n = len(values)
        total += n
        if total > MAX_POINTS:
            raise InvalidParameterValue(f"A batch holds at most {MAX_POINTS} metric points")
        steps = _int_column(series.get("steps"), field=f"metrics.{key}.steps", n=n, default=0)
        stamps = _int_column(
            series.get("timestamps"), field=f"metrics.{key}.timestamps", n=n, default=now
        )
        if n:
            out[key] = (steps, stamps, values)
    return out


def _points(points: list[Any], *, now: int) -> list[Metric]:
    if len(points) > MAX_POINTS:
        raise InvalidParameterValue(f"A batch holds at most {MAX_POINTS} metric points")
    out: list[Metric] = []
    for i, p in enumerate(points):
        if not isinstance(p, dict) or not isinstance(p.get("key"), str) or not p["key"]:
            raise InvalidParameterValue(
                f"Invalid value for 'metrics[{i}]': expected {{'key', 'value', 'timestamp', 'step'}}"
            )
        if "value" not in p:
            raise InvalidParameterValue(
                f"Missing value for required parameter 'metrics[{i}].value'"
            )
        stamp = p.get("timestamp", now)
        step = p.get("step", 0)
        if stamp is None:
            stamp = now
        if type(stamp) is not int or type(step) is not int:
            raise InvalidParameterValue(
                f"Invalid value for 'metrics[{i}]': timestamp and step must be integers"
            )
        out.append(Metric(p["key"], float_in(p["value"], field=f"metrics[{i}].value"), stamp, step))
    return out


def _pairs(value: Any, *, field: str) -> list[tuple[str, str]]:
    if value is None:
        return []
    if isinstance(value, dict):
        items = list(value.items())
    elif isinstance(value, list):
        items = []
        for i, entry in enumerate(value):
            if not isinstance(entry, dict) or set(entry) - {"key", "value"} or "key" not in entry:
                raise InvalidParameterValue(
                    f"Invalid value for '{field}[{i}]': expected {{'key': ..., 'value': ...}}"
                )
            items.append((entry["key"], entry.get("value", "")))
    else:
        raise InvalidParameterValue(
            f"Invalid value for '{field}': expected an object or a list of {{'key', 'value'}}"
        )
    for k, v in items:
        if not isinstance(k, str) or not k:
            raise InvalidParameterValue(
                f"Invalid value for '{field}': keys must be non-empty strings"
            )
        if not isinstance(v, str):
            raise InvalidParameterValue(
                f"Invalid value for '{field}.{k}': expected a string, got {type(v).__name__}"
            )
    return items
