"""Validating metric columns (``MetricColumns``) into packed arrays, without one object per point.

The checks are C-level scans of whole columns (``set(map(type, column))``, numpy
conversions); only a column that fails one is looked at point by point, through the very
rules of :func:`mltrail.service.validation.validate_metrics`, so a bad point gets the same
error whichever way the batch came in.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from mltrail.entities import Metric
from mltrail.errors import InvalidParameterValue
from mltrail.service import validation as v
from mltrail.wire import MetricColumns

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
# (steps, timestamps, values) of one key, as packed arrays in the given order.
ArrayColumns = tuple[IntArray, IntArray, FloatArray]

_INT = frozenset({int})
_NUMBER = frozenset({float, int})


def count_points(columns: MetricColumns) -> int:
    """The number of points (after checking each key's entry is three columns)."""
    total = 0
    for key, col in columns.items():
        if not isinstance(col, tuple | list) or len(col) != 3:
            raise InvalidParameterValue(
                f"Invalid columns for metric '{key}': expected (steps, timestamps, values)"
            )
        total += len(col[2])
    return total


def validate_columns(columns: MetricColumns) -> dict[str, ArrayColumns]:
    """Every key checked, every column checked and packed; raises InvalidParameterValue."""
    for key in columns:
        v.validate_key(key, what="name")
    out: dict[str, ArrayColumns] = {}
    for key, col in columns.items():
        count_points({key: col})
        steps, stamps, values = col
        n = len(values)
        if len(steps) != n or len(stamps) != n:
            raise InvalidParameterValue(
                f"Invalid columns for metric '{key}': {len(steps)} steps, {len(stamps)} "
                f"timestamps and {n} values (one of each per point)"
            )
        packed = _packed(steps, stamps, values)
        if packed is None:
            packed = _packed_point_by_point(key, steps, stamps, values)
        out[key] = packed
    return out


def _packed(
    steps: Sequence[int], stamps: Sequence[int], values: Sequence[float]
) -> ArrayColumns | None:
    """The arrays, or None when a column needs a closer look."""
    if not set(map(type, values)) <= _NUMBER:
        return None
    if not set(map(type, steps)) <= _INT or not set(map(type, stamps)) <= _INT:
        return None
    try:
        step_arr = np.array(steps, dtype=np.int64)
        stamp_arr = np.array(stamps, dtype=np.int64)
        value_arr = np.array(values, dtype=np.float64)
    except OverflowError:
        return None
    if stamp_arr.size and int(stamp_arr.min()) < 0:
        return None
    return step_arr, stamp_arr, value_arr


def _packed_point_by_point(
    key: str, steps: Sequence[int], stamps: Sequence[int], values: Sequence[float]
) -> ArrayColumns:
    metrics = list(map(Metric, [key] * len(values), values, stamps, steps))
    v.validate_metrics(metrics)  # raises the error of the first bad point
    # Valid after all (numpy scalars, int subclasses): plain numbers from here on.
    for x in values:
        try:
            float(x)
        except OverflowError:
            raise InvalidParameterValue(
                f"Got invalid value {x!r} for metric '{key}': out of the floating-point range."
            ) from None
    return (
        np.array([int(s) for s in steps], dtype=np.int64),
        np.array([int(t) for t in stamps], dtype=np.int64),
        np.array([float(x) for x in values], dtype=np.float64),
    )
