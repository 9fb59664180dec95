"""JSON encoding of the native API: entities to plain dicts, non-finite floats as strings.

JSON has no NaN or Infinity, and metrics hold them; they travel as the strings ``"NaN"``,
``"Infinity"`` and ``"-Infinity"`` in both directions.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

import orjson
from starlette.responses import Response

from mltrail.entities import Experiment, MetricSummary, Run, RunInfo
from mltrail.errors import InvalidParameterValue

_NONFINITE_OUT = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}
_NONFINITE_IN = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def float_out(value: float) -> float | str:
    if math.isfinite(value):
        return value
    return _NONFINITE_OUT[repr(float(value))]


def floats_out(values: list[float]) -> list[float | str] | list[float]:
    """The list as is when every value is finite (checked by one C-level sum), else converted."""
    try:
        total = math.fsum(values)
    except (OverflowError, ValueError):
        total = math.inf
    if math.isfinite(total):
        return values
    return [float_out(v) for v in values]


def float_in(value: Any, *, field: str) -> float:
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


def floats_in(values: list[Any], *, field: str) -> list[float]:
    if all(type(v) is float for v in values):
        return values
    return [float_in(v, field=field) for v in values]


def experiment_out(exp: Experiment) -> dict[str, Any]:
    return {
        "experiment_id": exp.experiment_id,
        "name": exp.name,
        "artifact_location": exp.artifact_location,
        "lifecycle_stage": exp.lifecycle_stage,
        "tags": dict(exp.tags),
        "creation_time": exp.creation_time,
        "last_update_time": exp.last_update_time,
    }


def run_info_out(info: RunInfo) -> dict[str, Any]:
    return {
        "run_id": info.run_id,
        "experiment_id": info.experiment_id,
        "run_name": info.run_name,
        "user_id": info.user_id,
        "status": info.status,
        "start_time": info.start_time,
        "end_time": info.end_time,
        "lifecycle_stage": info.lifecycle_stage,
        "artifact_uri": info.artifact_uri,
    }


def run_out(run: Run) -> dict[str, Any]:
    return {
        "info": run_info_out(run.info),
        "data": {
            "metrics": {k: float_out(v) for k, v in run.data.metrics.items()},
            "params": dict(run.data.params),
            "tags": dict(run.data.tags),
        },
    }


def summary_out(s: MetricSummary) -> dict[str, Any]:
    return {
        "key": s.key,
        "value": float_out(s.value),
        "timestamp": s.timestamp,
        "step": s.step,
        "min": None if s.min is None else float_out(s.min),
        "max": None if s.max is None else float_out(s.max),
        "count": s.count,
    }


def runs_out(runs: Iterable[Run]) -> list[dict[str, Any]]:
    return [run_out(r) for r in runs]


class JSONAnswer(Response):
    """A compact JSON response (non-finite floats are pre-encoded by the codec)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        try:
            # Several times faster on histories of 100,000 points.
            return orjson.dumps(content)
        except TypeError:
            # Integers beyond 64 bits: the standard encoder writes them.
            return json.dumps(content, separators=(",", ":"), allow_nan=False).encode()
