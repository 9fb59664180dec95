"""The native API's JSON shapes on the client side: entities in, batches out.

Non-finite floats travel as the strings "NaN", "Infinity" and "-Infinity".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from mltrail.entities import Experiment, Metric, MetricSummary, Param, Run, RunData, RunInfo, RunTag

_NONFINITE_IN = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def float_out(value: float) -> float | str:
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def floats_out(values: Sequence[float]) -> Sequence[Any]:
    try:
        total = math.fsum(values)
    except (OverflowError, ValueError):
        total = math.inf
    if math.isfinite(total):
        return values
    return [float_out(v) for v in values]


def float_in(value: Any) -> float:
    if isinstance(value, str):
        return _NONFINITE_IN[value] if value in _NONFINITE_IN else float(value)
    return float(value)


def floats_in(values: list[Any]) -> list[float]:
    if all(type(v) is float for v in values):
        return values
    return [float_in(v) for v in values]


def experiment_in(d: dict[str, Any]) -> Experiment:
    return Experiment(
        experiment_id=str(d["experiment_id"]),
        name=d["name"],
        artifact_location=d.get("artifact_location") or "",
        lifecycle_stage=d.get("lifecycle_stage", "active"),
        tags=dict(d.get("tags") or {}),
        creation_time=d.get("creation_time"),
        last_update_time=d.get("last_update_time"),
    )


def run_info_in(d: dict[str, Any]) -> RunInfo:
    return RunInfo(
        run_id=d["run_id"],
        experiment_id=str(d["experiment_id"]),
        run_name=d.get("run_name") or "",
        user_id=d.get("user_id") or "",
        status=d["status"],
        start_time=d["start_time"],
        end_time=d.get("end_time"),
        lifecycle_stage=d.get("lifecycle_stage", "active"),
        artifact_uri=d.get("artifact_uri") or "",
    )


def run_in(d: dict[str, Any]) -> Run:
    data = d.get("data") or {}
    return Run(
        info=run_info_in(d["info"]),
        data=RunData(
            metrics={k: float_in(v) for k, v in (data.get("metrics") or {}).items()},
            params=dict(data.get("params") or {}),
            tags=dict(data.get("tags") or {}),
        ),
    )


def summary_in(d: dict[str, Any]) -> MetricSummary:
    return MetricSummary(
        key=d["key"],
        value=float_in(d["value"]),
        timestamp=d["timestamp"],
        step=d["step"],
        min=None if d.get("min") is None else float_in(d["min"]),
        max=None if d.get("max") is None else float_in(d["max"]),
        count=d["count"],
    )


def history_in(d: dict[str, Any]) -> list[Metric]:
    key = d["key"]
    values = floats_in(d["values"])
    return list(map(Metric, [key] * len(values), values, d["timestamps"], d["steps"]))


def metric_columns(metrics: Sequence[Metric]) -> dict[str, dict[str, Sequence[Any]]]:
    """Points grouped by key as columns (the batch route's fast shape), in the given order."""
    columns: dict[str, tuple[list[int], list[int], list[float]]] = {}
    for m in metrics:
        col = columns.get(m.key)
        if col is None:
            col = columns[m.key] = ([], [], [])
        col[0].append(m.step)
        col[1].append(m.timestamp)
        col[2].append(m.value)
    return {
        key: {"steps": steps, "timestamps": stamps, "values": floats_out(values)}
        for key, (steps, stamps, values) in columns.items()
    }


def columns_out(
    columns: Mapping[str, tuple[Sequence[int], Sequence[int], Sequence[float]]],
) -> dict[str, dict[str, Sequence[Any]]]:
    """Columns per key in the batch route's shape (tuples and lists alike encode as arrays)."""
    return {
        key: {"steps": steps, "timestamps": stamps, "values": floats_out(values)}
        for key, (steps, stamps, values) in columns.items()
    }


def pairs_out(items: Sequence[Param] | Sequence[RunTag]) -> list[dict[str, str]]:
    return [{"key": i.key, "value": i.value} for i in items]
