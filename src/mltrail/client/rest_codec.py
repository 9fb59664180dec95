"""The native API's JSON shapes on the client side: entities in, params and tags out
(non-finite floats and metric columns go through :mod:`mltrail.wire`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mltrail.entities import Experiment, Metric, MetricSummary, Param, Run, RunData, RunInfo, RunTag
from mltrail.wire import float_in, floats_in


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


def pairs_out(items: Sequence[Param] | Sequence[RunTag]) -> list[dict[str, str]]:
    return [{"key": i.key, "value": i.value} for i in items]
