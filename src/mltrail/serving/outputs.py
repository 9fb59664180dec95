"""Predictions as MLflow's scoring server writes them: ``{"predictions": ...}``.

Arrays become (nested) lists, a DataFrame a list of records, a Series the records of a
one-column frame, as ``mlflow.pyfunc.scoring_server`` does. orjson writes the numbers with the
same shortest round-trip digits as Python's ``json``; NaN and infinities become ``null`` (Python's
``json`` writes ``NaN``, which is not JSON).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pandas as pd

_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def jsonable(predictions: Any) -> Any:
    if isinstance(predictions, np.ndarray):
        # orjson writes contiguous numeric arrays itself, much faster than tolist().
        if predictions.dtype.kind in "biuf" and predictions.flags.c_contiguous:
            return predictions
        return predictions.tolist()
    if isinstance(predictions, pd.DataFrame):
        return predictions.to_dict(orient="records")
    if isinstance(predictions, pd.Series):
        return pd.DataFrame(predictions).to_dict(orient="records")
    return predictions


def predictions_json(predictions: Any) -> bytes:
    try:
        return orjson.dumps({"predictions": jsonable(predictions)}, option=_OPTIONS)
    except TypeError:
        return orjson.dumps(
            {"predictions": _plain(jsonable(predictions))}, option=_OPTIONS, default=str
        )


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def output_columns(predictions: Any) -> dict[str, np.ndarray]:
    """Numeric outputs by name, for statistics: ``prediction`` for a 1-d array,
    ``prediction_<i>`` for the columns of a 2-d one, the column names of a DataFrame."""
    if isinstance(predictions, pd.Series):
        predictions = predictions.to_frame()
    if isinstance(predictions, pd.DataFrame):
        return {
            str(c): predictions[c].to_numpy(dtype=np.float64)
            for c in predictions.columns
            if predictions[c].dtype.kind in "biuf"
        }
    array = np.asarray(predictions) if isinstance(predictions, list | np.ndarray) else None
    if array is None or array.dtype.kind not in "biuf":
        return {}
    if array.ndim == 1:
        return {"prediction": array.astype(np.float64, copy=False)}
    if array.ndim == 2:
        return {f"prediction_{i}": array[:, i].astype(np.float64) for i in range(array.shape[1])}
    return {}
