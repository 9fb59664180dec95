"""Model signatures: the input and output schema, inferred from examples, checked at predict time.

The stored form follows MLflow's ``MLmodel`` (JSON lists of column or tensor specs), so models
saved by either tool describe themselves the same way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mltrail.errors import InvalidParameterValue

Spec = dict[str, Any]


@dataclass(frozen=True)
class ModelSignature:
    inputs: list[Spec]
    outputs: list[Spec] | None = None

    @property
    def is_tensor(self) -> bool:
        return bool(self.inputs) and self.inputs[0].get("type") == "tensor"

    def input_names(self) -> list[str]:
        return [str(s["name"]) for s in self.inputs if "name" in s]

    def to_dict(self) -> dict[str, str | None]:
        return {
            "inputs": json.dumps(self.inputs),
            "outputs": json.dumps(self.outputs) if self.outputs is not None else None,
            "params": None,
        }

    @classmethod
    def from_dict(cls, data: Any) -> ModelSignature:
        if not isinstance(data, dict):
            raise InvalidParameterValue("Invalid signature in MLmodel: expected a mapping")
        return cls(
            inputs=_load_specs(data.get("inputs")) or [], outputs=_load_specs(data.get("outputs"))
        )


def _load_specs(raw: Any) -> list[Spec] | None:
    if raw is None:
        return None
    try:
        specs = json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError as exc:
        raise InvalidParameterValue(f"Invalid signature in MLmodel: {exc}") from exc
    if not isinstance(specs, list) or not all(isinstance(s, dict) for s in specs):
        raise InvalidParameterValue("Invalid signature in MLmodel: expected a list of specs")
    return specs


def _column_type(dtype: Any, values: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_integer_dtype(dtype):
        return (
            "long"
            if np.dtype(dtype).itemsize >= 8 or pd.api.types.is_unsigned_integer_dtype(dtype)
            else "integer"
        )
    if pd.api.types.is_float_dtype(dtype):
        return "float" if np.dtype(dtype).itemsize <= 4 else "double"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    non_null = values.dropna()
    if len(non_null) and all(isinstance(v, (bytes, bytearray)) for v in non_null):
        return "binary"
    return "string"


def as_frame_or_array(data: Any) -> pd.DataFrame | np.ndarray:
    """An example or a predict input as a DataFrame (named columns) or an ndarray."""
    if isinstance(data, pd.DataFrame | np.ndarray):
        return data
    if isinstance(data, pd.Series):
        return data.to_frame()
    if isinstance(data, dict):
        return pd.DataFrame(data)
    if isinstance(data, list | tuple):
        return np.asarray(data)
    raise InvalidParameterValue(
        f"Unsupported model input type {type(data).__name__}: use a pandas DataFrame, a numpy array, "
        "a dict of columns or a list of rows"
    )


def infer_schema(data: Any) -> list[Spec]:
    value = data if isinstance(data, pd.Series) else as_frame_or_array(data)
    if isinstance(value, pd.Series):
        spec: Spec = {"type": _column_type(value.dtype, value), "required": True}
        if value.name is not None:
            spec["name"] = str(value.name)
        return [spec]
    if isinstance(value, pd.DataFrame):
        return [
            {"type": _column_type(value[col].dtype, value[col]), "name": str(col), "required": True}
            for col in value.columns
        ]
    shape = [-1, *value.shape[1:]] if value.ndim else []
    return [{"type": "tensor", "tensor-spec": {"dtype": str(value.dtype), "shape": shape}}]


def infer_signature(model_input: Any, model_output: Any = None) -> ModelSignature:
    """A signature from an input example and, if given, the model's output on it."""
    return ModelSignature(
        inputs=infer_schema(model_input),
        outputs=infer_schema(model_output) if model_output is not None else None,
    )


_FLOAT_TYPES = {"double": np.float64, "float": np.float32}


def enforce_input(signature: ModelSignature, data: Any) -> pd.DataFrame | np.ndarray:
    """``data`` shaped the way the signature says, or a clear InvalidParameterValue."""
    value = as_frame_or_array(data)
    if signature.is_tensor:
        return _enforce_tensor(signature.inputs[0]["tensor-spec"], value)
    names = signature.input_names()
    if not names:
        return value
    if isinstance(value, np.ndarray):
        if value.ndim != 2 or value.shape[1] != len(names):
            raise InvalidParameterValue(
                f"Model input has shape {value.shape}; the model's signature expects a table with "
                f"the columns {names} (pass a DataFrame)"
            )
        value = pd.DataFrame(value, columns=names)
    missing = [n for n in names if n not in value.columns]
    if missing:
        raise InvalidParameterValue(
            f"Model input is missing columns {missing}. The model's signature expects "
            f"{names}; got {[str(c) for c in value.columns]}"
        )
    frame = value[names].copy()
    for spec in signature.inputs:
        target = _FLOAT_TYPES.get(spec.get("type", ""))
        col = spec.get("name")
        # Integers widen to the float type the model was trained on; nothing else is converted.
        if (
            target is not None
            and col is not None
            and pd.api.types.is_integer_dtype(frame[col].dtype)
        ):
            frame[col] = frame[col].astype(target)
    return frame


def _enforce_tensor(spec: Spec, value: pd.DataFrame | np.ndarray) -> np.ndarray:
    array = value.to_numpy() if isinstance(value, pd.DataFrame) else value
    shape = list(spec.get("shape") or [])
    if shape and (
        array.ndim != len(shape)
        or any(want != -1 and want != got for want, got in zip(shape, array.shape, strict=True))
    ):
        raise InvalidParameterValue(
            f"Model input has shape {list(array.shape)}; the model's signature expects {shape} "
            "(-1 means any size)"
        )
    want_dtype = np.dtype(spec.get("dtype", array.dtype))
    if array.dtype != want_dtype and np.can_cast(array.dtype, want_dtype, casting="same_kind"):
        array = array.astype(want_dtype)
    return array
