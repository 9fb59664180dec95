"""Request bodies of MLflow's scoring protocol, turned into what the model's ``predict`` takes.

JSON (``dataframe_split``, ``dataframe_records``, ``instances``, ``inputs``, plus ``params``)
and CSV, checked against the model's signature column by column (:mod:`.columns`). A body of
numbers only, the common case, is converted by numpy in one call and handed to the model as one
column-major float block, the layout MLflow's own conversion ends with, so that predictions
agree with MLflow's to the last bit.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import pandas as pd

from mltrail.errors import BadRequest, InvalidParameterValue
from mltrail.models.signature import ModelSignature
from mltrail.serving.columns import FLOATS, ColumnError, Spec, convert_column
from mltrail.serving.errors import MalformedBody, TooManyRows, UnsupportedMediaType

CONTENT_TYPE_JSON = "application/json"
CONTENT_TYPE_CSV = "text/csv"
CONTENT_TYPES = (CONTENT_TYPE_JSON, CONTENT_TYPE_CSV)
FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
_MISSING = object()


@dataclass(frozen=True)
class ModelInput:
    data: Any
    rows: int
    params: dict[str, Any] | None = None


def media_type(content_type: str | None) -> str:
    """The bare media type; refuses charsets other than UTF-8 and unknown parameters."""
    if not content_type:
        raise UnsupportedMediaType(
            f"A Content-Type header is required: one of {', '.join(CONTENT_TYPES)}"
        )
    mime, *parameters = (part.strip() for part in content_type.split(";"))
    mime = mime.lower()
    for parameter in parameters:
        key, _, value = parameter.partition("=")
        key = key.strip().lower()
        if key == "charset" and value.strip().strip('"').lower() in ("utf-8", "utf8"):
            continue
        raise UnsupportedMediaType(
            f"Unsupported Content-Type parameter {parameter!r}: bodies are UTF-8"
        )
    if mime not in CONTENT_TYPES:
        raise UnsupportedMediaType(
            f"Unsupported Content-Type {mime!r}: send one of {', '.join(CONTENT_TYPES)}"
        )
    return mime


def parse_body(
    body: bytes, mime: str, signature: ModelSignature | None, *, max_rows: int
) -> ModelInput:
    if mime == CONTENT_TYPE_CSV:
        frame = read_csv(body)
        _check_rows(len(frame), max_rows)
        return ModelInput(frame_input(frame, signature), rows=len(frame))
    document = decode_json(body)
    fields = [key for key in FORMATS if key in document]
    if len(fields) != 1:
        raise BadRequest(
            "The input must be a JSON object with exactly one of the fields "
            f"{', '.join(FORMATS)}; got {sorted(document)}"
        )
    params = document.get("params")
    if params is not None and not isinstance(params, dict):
        raise BadRequest(f"'params' must be a JSON object, not {type(params).__name__}")
    value = document[fields[0]]
    data, rows = _from_field(fields[0], value, signature, max_rows=max_rows)
    return ModelInput(data, rows=rows, params=params)


def decode_json(body: bytes) -> dict[str, Any]:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        # MLflow's client writes NaN and Infinity, which strict JSON (and orjson) refuse.
        try:
            document = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise MalformedBody(f"Malformed JSON body: {exc}") from exc
    if not isinstance(document, dict):
        raise BadRequest(
            f"The input must be a JSON object with one of the fields {', '.join(FORMATS)}; "
            f"got a {type(document).__name__}"
        )
    return document


def read_csv(body: bytes | io.BufferedIOBase) -> pd.DataFrame:
    source = io.BytesIO(body) if isinstance(body, bytes) else body
    try:
        return pd.read_csv(source)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        first = (str(exc).strip().splitlines() or [""])[0]
        raise MalformedBody(f"Malformed CSV body: {first}") from exc


def _check_rows(rows: int, max_rows: int) -> None:
    if max_rows and rows > max_rows:
        raise TooManyRows(
            f"The request has {rows} rows; this server takes at most {max_rows} per request "
            "(--max-batch-rows)"
        )


def _from_field(
    field: str, value: Any, signature: ModelSignature | None, *, max_rows: int
) -> tuple[Any, int]:
    if field == "dataframe_split":
        if not isinstance(value, dict) or "data" not in value:
            raise BadRequest(
                "dataframe_split must be an object with 'data' and optionally 'columns' and 'index'"
            )
        rows = value["data"]
        if not isinstance(rows, list):
            raise BadRequest("dataframe_split.data must be a list of rows")
        _check_rows(len(rows), max_rows)
        columns = value.get("columns")
        if columns is not None and not isinstance(columns, list):
            raise BadRequest("dataframe_split.columns must be a list of names")
        return rows_input(rows, columns, signature), len(rows)
    if field == "dataframe_records" or (
        field == "instances" and isinstance(value, list) and value and isinstance(value[0], dict)
    ):
        if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
            raise BadRequest(f"{field} must be a list of records (JSON objects)")
        _check_rows(len(value), max_rows)
        return records_input(value, signature), len(value)
    # 'inputs' and 'instances': named columns (an object of lists) or a tensor (nested lists).
    if isinstance(value, dict):
        lengths = {len(v) if isinstance(v, list) else 1 for v in value.values()}
        if len(lengths) > 1:
            raise BadRequest(f"The columns of '{field}' have different lengths: {sorted(lengths)}")
        rows = lengths.pop() if lengths else 0
        _check_rows(rows, max_rows)
        columns = {k: v if isinstance(v, list) else [v] for k, v in value.items()}
        return columns_input(columns, signature), rows
    if not isinstance(value, list):
        raise BadRequest(f"'{field}' must be a list or an object of columns")
    _check_rows(len(value), max_rows)
    if signature is not None and not signature.is_tensor and signature.input_names():
        return rows_input(value, None, signature), len(value)
    return tensor_input(value, signature), len(value)


# -- column signatures ----------------------------------------------------------------


def _column_specs(signature: ModelSignature | None) -> list[Spec] | None:
    if signature is None or signature.is_tensor or not signature.input_names():
        return None
    return [s for s in signature.inputs if "name" in s]


def _missing_error(missing: list[str], specs: list[Spec], got: Sequence[Any]) -> ColumnError:
    names = [str(s["name"]) for s in specs]
    return ColumnError(
        missing[0],
        f"Model is missing input column{'s' if len(missing) > 1 else ''} "
        f"{', '.join(repr(m) for m in missing)}. The signature expects {names}; "
        f"got {[str(c) for c in got]}",
    )


def _build_frame(specs: list[Spec], columns: Mapping[str, Any], rows: int) -> pd.DataFrame:
    names = [str(s["name"]) for s in specs]
    missing = [
        n for n, s in zip(names, specs, strict=True) if n not in columns and s.get("required", True)
    ]
    if missing:
        raise _missing_error(missing, specs, list(columns))
    arrays = {}
    for name, spec in zip(names, specs, strict=True):
        values = columns.get(name, _MISSING)
        arrays[name] = (
            convert_column(name, [None] * rows, {**spec, "required": False})
            if values is _MISSING
            else convert_column(name, values, spec)
        )
    return pd.DataFrame(arrays, columns=names, copy=False)


def rows_input(rows: list[Any], columns: list[Any] | None, signature: ModelSignature | None) -> Any:
    specs = _column_specs(signature)
    if specs is None:
        if signature is not None and signature.is_tensor:
            return tensor_input(rows, signature)
        try:
            return pd.DataFrame(rows, columns=columns)
        except (ValueError, TypeError) as exc:
            raise BadRequest(f"Rows do not form a table: {exc}") from exc
    names = [str(c) for c in columns] if columns is not None else [str(s["name"]) for s in specs]
    fast = _numeric_block(rows, names, specs)
    if fast is not None:
        return fast
    width = len(names)
    for i, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != width:
            size = len(row) if isinstance(row, list) else "not a list"
            raise BadRequest(f"Row {i} has {size} values; there are {width} columns")
    transposed = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    return _build_frame(specs, dict(zip(names, transposed, strict=True)), len(rows))


def _numeric_block(rows: list[Any], names: list[str], specs: list[Spec]) -> pd.DataFrame | None:
    """All-double signatures and numbers-only rows: one numpy conversion, one float block."""
    if not rows or any(s.get("type") not in FLOATS for s in specs):
        return None
    if any(s.get("type") != specs[0].get("type") for s in specs):
        return None
    try:
        matrix = np.array(rows)
    except (ValueError, TypeError):
        return None
    if matrix.ndim != 2 or matrix.dtype.kind not in "biuf" or matrix.shape[1] != len(names):
        return None
    position = {n: i for i, n in enumerate(names)}
    wanted = [str(s["name"]) for s in specs]
    missing = [n for n in wanted if n not in position]
    if missing:
        required = [
            n
            for n, s in zip(wanted, specs, strict=True)
            if n in missing and s.get("required", True)
        ]
        if required:
            raise _missing_error(required, specs, names)
        return None
    index = [position[n] for n in wanted]
    if index != list(range(len(names))):
        matrix = matrix[:, index]
    block = np.asfortranarray(matrix, dtype=FLOATS[str(specs[0]["type"])])
    return pd.DataFrame(block, columns=wanted, copy=False)


def records_input(records: list[dict[str, Any]], signature: ModelSignature | None) -> Any:
    specs = _column_specs(signature)
    if specs is None:
        try:
            frame = pd.DataFrame(records)
        except (ValueError, TypeError) as exc:
            raise BadRequest(f"Records do not form a table: {exc}") from exc
        return frame.to_numpy() if signature is not None and signature.is_tensor else frame
    columns: dict[str, list[Any]] = {}
    for spec in specs:
        name = str(spec["name"])
        values = [r.get(name, _MISSING) for r in records]
        if records and all(v is _MISSING for v in values):
            continue
        columns[name] = [None if v is _MISSING else v for v in values]
    if not records:
        columns = {str(s["name"]): [] for s in specs}
    return _build_frame(specs, columns, len(records))


def columns_input(columns: dict[str, list[Any]], signature: ModelSignature | None) -> Any:
    specs = _column_specs(signature)
    rows = len(next(iter(columns.values()))) if columns else 0
    if specs is None:
        frame = pd.DataFrame(columns)
        return frame.to_numpy() if signature is not None and signature.is_tensor else frame
    return _build_frame(specs, columns, rows)


def frame_input(frame: pd.DataFrame, signature: ModelSignature | None) -> Any:
    """A DataFrame (CSV body, batch file chunk) checked against the signature."""
    specs = _column_specs(signature)
    if specs is None:
        if signature is not None and signature.is_tensor:
            return tensor_input(frame.to_numpy(), signature)
        return frame
    columns = {str(c): frame[c].to_numpy() for c in frame.columns}
    return _build_frame(specs, columns, len(frame))


# -- tensor signatures ----------------------------------------------------------------


def tensor_input(value: Any, signature: ModelSignature | None) -> np.ndarray:
    spec: Spec = {}
    if signature is not None and signature.is_tensor:
        spec = signature.inputs[0].get("tensor-spec", {})
    dtype = spec.get("dtype")
    try:
        array = np.asarray(value, dtype=dtype) if dtype else np.asarray(value)
    except (ValueError, TypeError) as exc:
        want = f" of {dtype}" if dtype else ""
        raise InvalidParameterValue(f"The input is not a tensor{want}: {exc}") from exc
    shape = list(spec.get("shape") or [])
    if shape and (
        array.ndim != len(shape)
        or any(w != -1 and w != g for w, g in zip(shape, array.shape, strict=False))
    ):
        raise InvalidParameterValue(
            f"The input tensor has shape {list(array.shape)}; the model's signature expects "
            f"{shape} (-1: any size)"
        )
    return array
