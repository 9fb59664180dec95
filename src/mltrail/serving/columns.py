"""Checking one input column against its signature spec and converting it for the model.

The checks follow what MLflow accepts (integers for a double column, extra columns ignored) and
refuse what it lets through silently or fails on later with a generic error: text in a number
column, a fraction in an integer column, a null in a required column. Every refusal names the
column and the first offending row.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from mltrail.errors import InvalidParameterValue

Spec = dict[str, Any]

FLOATS = {"double": np.float64, "float": np.float32}
INTEGERS: dict[str, type[np.integer[Any]]] = {"long": np.int64, "integer": np.int32}
NUMERIC = frozenset({*FLOATS, *INTEGERS})
_NUMBER_TYPES = (int, float, np.integer, np.floating)


class ColumnError(InvalidParameterValue):
    """An input column that does not match the model's signature."""

    def __init__(self, column: str, message: str) -> None:
        super().__init__(message, details={"column": column})
        self.column = column


def infer_array(values: Sequence[Any] | np.ndarray) -> np.ndarray:
    """``values`` as a 1-d array, numeric when every value is a number (numpy decides, in C)."""
    if isinstance(values, np.ndarray):
        return values
    try:
        arr = np.asarray(values)
    except (ValueError, TypeError):
        arr = _object_array(values)
    if arr.ndim != 1:
        arr = _object_array(values)
    return arr


def _object_array(values: Sequence[Any]) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):
        out[i] = v
    return out


def _describe(value: Any) -> str:
    if isinstance(value, np.generic):
        value = value.item()
    text = repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{text} ({type(value).__name__})"


def _null_error(name: str, row: int) -> ColumnError:
    return ColumnError(name, f"Column '{name}' is required but row {row} has no value (null)")


def _type_error(name: str, kind: str, row: int, value: Any) -> ColumnError:
    return ColumnError(
        name, f"Column '{name}' expects {kind} values; row {row} has {_describe(value)}"
    )


def convert_column(name: str, values: Sequence[Any] | np.ndarray, spec: Spec) -> Any:
    """The column as the model expects it, or a :class:`ColumnError` naming it."""
    kind = str(spec.get("type", ""))
    required = bool(spec.get("required", True))
    arr = infer_array(values)
    if kind in FLOATS:
        return _floats(name, arr, kind, required)
    if kind in INTEGERS:
        return _integers(name, arr, kind, required)
    if kind == "boolean":
        return _checked_objects(name, arr, kind, required, (bool, np.bool_), np.bool_)
    if kind == "string":
        return _checked_objects(name, arr, kind, required, (str,), object)
    if kind == "binary":
        return _binary(name, arr, required)
    if kind == "datetime":
        return _datetimes(name, arr, required)
    # Arrays, objects, maps and 'any' go to the model as they came.
    return arr


def _floats(name: str, arr: np.ndarray, kind: str, required: bool) -> np.ndarray:
    target = FLOATS[kind]
    if arr.dtype.kind in "biuf":
        return arr.astype(target, copy=False)
    out = np.empty(len(arr), dtype=target)
    for i, v in enumerate(arr):
        if v is None or (isinstance(v, float) and np.isnan(v) and not required):
            if required and v is None:
                raise _null_error(name, i)
            out[i] = np.nan
        elif isinstance(v, _NUMBER_TYPES):
            out[i] = v
        else:
            raise _type_error(name, kind, i, v)
    return out


def _integers(name: str, arr: np.ndarray, kind: str, required: bool) -> np.ndarray:
    target = INTEGERS[kind]
    if arr.dtype.kind in "biu":
        return _in_range(name, arr, kind, target)
    if arr.dtype.kind != "f":
        floats = np.empty(len(arr), dtype=np.float64)
        for i, v in enumerate(arr):
            if v is None:
                if required:
                    raise _null_error(name, i)
                floats[i] = np.nan
            elif isinstance(v, _NUMBER_TYPES):
                floats[i] = v
            else:
                raise _type_error(name, kind, i, v)
        arr = floats
    nulls = np.isnan(arr)
    whole = nulls | (np.isfinite(arr) & (arr == np.floor(arr)))
    if not whole.all():
        row = int(np.argmin(whole))
        raise ColumnError(
            name,
            f"Column '{name}' expects whole numbers ({kind}); row {row} has "
            f"{_describe(arr[row].item())}",
        )
    if nulls.any():
        if required:
            raise _null_error(name, int(np.argmax(nulls)))
        # An integer array cannot hold a missing value: the column stays float, as in pandas.
        return arr
    return _in_range(name, arr, kind, target)


def _in_range(name: str, arr: np.ndarray, kind: str, target: type[np.integer[Any]]) -> np.ndarray:
    if arr.size and arr.dtype.kind != "b":
        info = np.iinfo(target)
        low, high = arr.min(), arr.max()
        if low < info.min or high > info.max:
            row = int(np.argmax((arr < info.min) | (arr > info.max)))
            raise ColumnError(
                name, f"Column '{name}' ({kind}) cannot hold {arr[row].item()!r} in row {row}"
            )
    return arr.astype(target, copy=False)


def _checked_objects(
    name: str,
    arr: np.ndarray,
    kind: str,
    required: bool,
    accepted: tuple[type, ...],
    dtype: Any,
) -> np.ndarray:
    if kind == "boolean" and arr.dtype.kind == "b":
        return arr
    if kind == "string" and arr.dtype.kind == "U":
        return arr.astype(object)
    has_null = False
    for i, v in enumerate(arr):
        if v is None:
            if required:
                raise _null_error(name, i)
            has_null = True
        elif not isinstance(v, accepted):
            raise _type_error(name, kind, i, v)
    return arr.astype(object if has_null else dtype, copy=False)


def _binary(name: str, arr: np.ndarray, required: bool) -> np.ndarray:
    out = np.empty(len(arr), dtype=object)
    for i, v in enumerate(arr):
        if v is None:
            if required:
                raise _null_error(name, i)
            out[i] = None
        elif isinstance(v, bytes | bytearray):
            out[i] = bytes(v)
        elif isinstance(v, str):
            try:
                out[i] = base64.b64decode(v, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise ColumnError(
                    name, f"Column '{name}' expects base64 text (binary); row {i} is not base64"
                ) from exc
        else:
            raise _type_error(name, "binary (base64 text)", i, v)
    return out


def _datetimes(name: str, arr: np.ndarray, required: bool) -> Any:
    if required:
        for i, v in enumerate(arr):
            if v is None:
                raise _null_error(name, i)
    try:
        return pd.to_datetime(pd.Series(arr), errors="raise").to_numpy()
    except (ValueError, TypeError, OverflowError) as exc:
        raise ColumnError(name, f"Column '{name}' expects dates and times: {exc}") from exc
