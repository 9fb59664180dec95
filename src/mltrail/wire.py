"""What the client and the server share about the wire: JSON in and out, non-finite floats,
metric points as columns, and the GC pause of large batches.

orjson does the JSON work. Bodies it refuses are tried once more with the standard decoder, which
accepts what Python clients really send (``NaN``/``Infinity`` literals, integers beyond 64
bits); whatever that decoder lets through is then checked for what orjson would have refused
(nesting deeper than :data:`MAX_DEPTH`, strings with lone surrogates), so that hostile bodies
end as one typed error instead of a ``RecursionError`` or an encoding error deep inside.
"""

from __future__ import annotations

import gc
import json
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeAlias

import orjson

from mltrail.entities import Metric
from mltrail.errors import InvalidParameterValue, MalformedRequest

# Metric points of one batch as columns per key: (steps, timestamps, values), all three of the
# same length. This is the only form points take between the client's queue and the store;
# ``Metric`` rows are converted at the edges (the MLflow adapter, ``TrackingClient.log_batch``).
MetricColumns: TypeAlias = Mapping[str, tuple[Sequence[int], Sequence[int], Sequence[float]]]
ColumnLists: TypeAlias = dict[str, tuple[list[int], list[int], list[float]]]

# orjson's own nesting limit is 1024; the standard decoder has none but Python's recursion.
MAX_DEPTH = 1024
MALFORMED = "Malformed JSON in the request body: "


def encode_json(value: Any) -> bytes:
    """Compact JSON; orjson is several times faster on batches of 10,000 points."""
    try:
        return orjson.dumps(value)
    except TypeError:
        # Integers beyond 64 bits and other types orjson refuses: the standard encoder's answer.
        return json.dumps(value, separators=(",", ":"), allow_nan=False).encode()


def decode_json(raw: bytes | str) -> Any:
    """The value ``raw`` holds, or :class:`MalformedRequest` naming what is wrong with it."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as fast_error:
        if "depth limit" in str(fast_error) or "surrogate" in str(fast_error):
            raise MalformedRequest(f"{MALFORMED}{fast_error}") from None
    try:
        value = json.loads(raw)
    except RecursionError:
        raise MalformedRequest(_too_deep()) from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise MalformedRequest(f"{MALFORMED}{exc}") from None
    check_decoded(value)
    return value


def check_decoded(value: Any) -> None:
    """Refuse nesting deeper than :data:`MAX_DEPTH` and strings that are not valid Unicode
    (lone surrogates), without recursion."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            _check_text(item)
            continue
        if not isinstance(item, (dict, list)):
            continue
        if depth > MAX_DEPTH:
            raise MalformedRequest(_too_deep())
        if isinstance(item, dict):
            for key, child in item.items():
                _check_text(key)
                stack.append((child, depth + 1))
        else:
            stack.extend((child, depth + 1) for child in item)


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise MalformedRequest(
            f"{MALFORMED}a string holds a lone surrogate (not valid Unicode)"
        ) from None


def _too_deep() -> str:
    return f"{MALFORMED}nested deeper than {MAX_DEPTH} levels"


# -- non-finite floats ---------------------------------------------------------------------
# JSON has no NaN or Infinity, and metrics hold them: they travel as these strings both ways.
_NONFINITE_IN = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def float_out(value: float) -> float | str:
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def floats_out(values: Sequence[float]) -> Sequence[float | str]:
    """The values as they are when every one is finite (one C-level sum checks), else encoded."""
    try:
        total = math.fsum(values)
    except (OverflowError, ValueError):
        total = math.inf
    if math.isfinite(total):
        return values
    return [float_out(v) for v in values]


def float_in(value: Any, *, field: str = "value") -> float:
    if type(value) is float:
        return value
    if type(value) is int:
        try:
            return float(value)
        except OverflowError:
            raise InvalidParameterValue(
                f"Invalid value for '{field}': {value} is beyond the floating-point range"
            ) from None
    if isinstance(value, str) and value in _NONFINITE_IN:
        return _NONFINITE_IN[value]
    raise InvalidParameterValue(
        f"Invalid value for '{field}': expected a number or 'NaN'/'Infinity'/'-Infinity', "
        f"got {value!r}"
    )


def floats_in(values: list[Any], *, field: str = "values") -> list[float]:
    if all(type(v) is float for v in values):
        return values
    return [float_in(v, field=field) for v in values]


# -- metric columns ------------------------------------------------------------------------


def columns_of(metrics: Iterable[Metric]) -> ColumnLists:
    """Rows grouped by key as columns, in the given order (the edge from ``Metric`` rows)."""
    columns: ColumnLists = {}
    for m in metrics:
        col = columns.get(m.key)
        if col is None:
            col = columns[m.key] = ([], [], [])
        col[0].append(m.step)
        col[1].append(m.timestamp)
        col[2].append(m.value)
    return columns


def rows_of(columns: MetricColumns) -> list[Metric]:
    """The points as ``Metric`` rows, key by key (the edge back to rows)."""
    return [
        Metric(key, value, stamp, step)
        for key, (steps, stamps, values) in columns.items()
        for step, stamp, value in zip(steps, stamps, values, strict=True)
    ]


def point_count(columns: MetricColumns) -> int:
    return sum(len(col[2]) for col in columns.values())


def split_columns(columns: MetricColumns, *, max_points: int) -> list[ColumnLists]:
    """The points cut into parts of at most ``max_points`` (keys in order, each key's points in
    order); one empty part for no points."""
    parts: list[ColumnLists] = [{}]
    room = max_points
    for key, (steps, stamps, values) in columns.items():
        start = 0
        while start < len(values):
            if room == 0:
                parts.append({})
                room = max_points
            end = min(len(values), start + room)
            parts[-1][key] = (
                list(steps[start:end]),
                list(stamps[start:end]),
                list(values[start:end]),
            )
            room -= end - start
            start = end
    return parts


def columns_out(columns: MetricColumns) -> dict[str, dict[str, Sequence[Any]]]:
    """Columns per key in the native batch route's JSON shape."""
    return {
        key: {"steps": steps, "timestamps": stamps, "values": floats_out(values)}
        for key, (steps, stamps, values) in columns.items()
    }


@contextmanager
def gc_paused(when: bool = True) -> Iterator[None]:
    """Pause the cyclic GC while a large batch allocates many acyclic objects.

    Otherwise each generation-0 threshold crossing scans the young objects again, which costs
    about as much as building them. Only a pause started here is ended here.
    """
    paused = when and gc.isenabled()
    if paused:
        gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()
