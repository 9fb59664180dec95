"""MLflow's proto-JSON conventions: entities to wire dicts.

Unset fields and empty repeated fields are omitted (proto2 semantics); enums go out by
name; int64 values are JSON numbers; NaN is sent as the string ``"NaN"`` and infinities are
clamped to the largest finite double, which is what MLflow's SQL store answers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from mltrail.entities import (
    Experiment,
    FileInfo,
    Metric,
    MetricSummary,
    Run,
    RunInfo,
)

MAX_DOUBLE = 1.7976931348623157e308


def double(value: float) -> float | str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return MAX_DOUBLE if value > 0 else -MAX_DOUBLE
    return value


def compact(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Drop unset (None) fields and empty lists, as proto2 JSON does."""
    return {k: v for k, v in fields.items() if v is not None and v != []}


def key_values(items: Mapping[str, str] | Iterable[tuple[str, str]]) -> list[dict[str, str]]:
    pairs = items.items() if isinstance(items, Mapping) else items
    return [{"key": k, "value": v} for k, v in pairs]


def experiment(exp: Experiment) -> dict[str, Any]:
    return compact(
        {
            "experiment_id": exp.experiment_id,
            "name": exp.name,
            "artifact_location": exp.artifact_location,
            "lifecycle_stage": exp.lifecycle_stage,
            # The client reads 0 or a missing value as "unknown".
            "creation_time": exp.creation_time or None,
            "last_update_time": exp.last_update_time or None,
            "tags": key_values(exp.tags),
        }
    )


def run_info(info: RunInfo) -> dict[str, Any]:
    return compact(
        {
            # Both names: 3.x clients read run_id, the web UI and old clients run_uuid.
            "run_id": info.run_id,
            "run_uuid": info.run_id,
            "run_name": info.run_name,
            "experiment_id": info.experiment_id,
            "user_id": info.user_id,
            "status": info.status,
            "start_time": info.start_time,
            "end_time": info.end_time,
            "artifact_uri": info.artifact_uri,
            "lifecycle_stage": info.lifecycle_stage,
        }
    )


def metric(m: Metric | MetricSummary, *, run_id: str | None = None) -> dict[str, Any]:
    # Called once per point of a history (100,000s per request): no generic helpers here.
    value = m.value
    out: dict[str, Any] = {
        "key": m.key,
        "value": value if -MAX_DOUBLE <= value <= MAX_DOUBLE else double(value),
        "timestamp": m.timestamp,
        "step": m.step,
    }
    if m.timestamp is None or m.step is None:
        out = compact(out)
    if run_id is not None:
        out["run_id"] = run_id
    return out


def run(
    r: Run,
    *,
    latest_metrics: Sequence[MetricSummary] | None = None,
    hidden_tags: Iterable[str] = (),
    inputs: Mapping[str, Any] | None = None,
    outputs: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A run; ``latest_metrics`` carries timestamps and steps that ``RunData`` does not hold."""
    if latest_metrics is not None:
        metrics = [metric(s) for s in latest_metrics]
    else:
        metrics = [
            {"key": k, "value": double(v), "timestamp": 0, "step": 0}
            for k, v in r.data.metrics.items()
        ]
    hidden = set(hidden_tags)
    data = compact(
        {
            "metrics": metrics,
            "params": key_values(r.data.params),
            "tags": key_values((k, v) for k, v in r.data.tags.items() if k not in hidden),
        }
    )
    body: dict[str, Any] = {"info": run_info(r.info), "data": data, "inputs": dict(inputs or {})}
    if outputs:
        body["outputs"] = dict(outputs)
    return body


def file_info(f: FileInfo, *, path: str | None = None) -> dict[str, Any]:
    return compact(
        {
            "path": f.path if path is None else path,
            "is_dir": f.is_dir,
            "file_size": None if f.is_dir else f.file_size,
        }
    )


def paged(key: str, items: list[dict[str, Any]], token: str | None) -> dict[str, Any]:
    return compact({key: items, "next_page_token": token or None})
