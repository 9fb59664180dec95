"""Runs as a pandas DataFrame, with the columns ``mlflow.search_runs`` produces."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mltrail.entities import Run

if TYPE_CHECKING:
    import pandas as pd


def runs_to_frame(runs: Sequence[Run]) -> pd.DataFrame:
    """One row per run: run_id, experiment_id, status, artifact_uri, start_time, end_time
    (UTC datetimes), then ``metrics.<key>`` (NaN when absent), ``params.<key>`` and
    ``tags.<key>`` (None when absent)."""
    import numpy as np
    import pandas as pd

    info: dict[str, list[Any]] = {
        "run_id": [],
        "experiment_id": [],
        "status": [],
        "artifact_uri": [],
        "start_time": [],
        "end_time": [],
    }
    metrics: dict[str, list[Any]] = {}
    params: dict[str, list[Any]] = {}
    tags: dict[str, list[Any]] = {}
    for i, run in enumerate(runs):
        info["run_id"].append(run.info.run_id)
        info["experiment_id"].append(run.info.experiment_id)
        info["status"].append(run.info.status)
        info["artifact_uri"].append(run.info.artifact_uri)
        info["start_time"].append(pd.to_datetime(run.info.start_time, unit="ms", utc=True))
        end = run.info.end_time
        info["end_time"].append(pd.NaT if end is None else pd.to_datetime(end, unit="ms", utc=True))
        _add_row(metrics, run.data.metrics, i, np.nan)
        _add_row(params, run.data.params, i, None)
        _add_row(tags, run.data.tags, i, None)
    data: dict[str, list[Any]] = dict(info)
    for prefix, columns in (("metrics.", metrics), ("params.", params), ("tags.", tags)):
        for key in sorted(columns):
            data[prefix + key] = columns[key]
    return pd.DataFrame(data)


def _add_row(columns: dict[str, list[Any]], values: dict[str, Any], row: int, null: Any) -> None:
    for key, column in columns.items():
        column.append(values.get(key, null))
    for key in values.keys() - columns.keys():
        columns[key] = [null] * row + [values[key]]
