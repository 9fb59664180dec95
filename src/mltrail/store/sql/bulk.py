"""Bulk writes for imports and restores: whole runs, models and registry entries, many rows
per statement, inside the caller's transaction.

The logging path (``store``/``metrics``) validates and writes one request at a time; an
import of 10,000 runs cannot afford a transaction per point or per run. Here a batch of
runs becomes a handful of executemany statements: run rows, params, tags, one packed chunk
per new series (see ``metrics``) and its summary row. Series of runs that already exist
are appended through ``metrics.append_series`` so that their summaries merge correctly.

Everything keeps the ids it is given (run ids, logged-model ``m-`` ids, version numbers);
only experiments get a new id from the target database.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy import Connection

from mltrail.model_entities import LoggedModel, ModelVersion
from mltrail.store.schema import (
    experiment_tags,
    experiments,
    metric_summaries,
    params,
    runs,
    tags,
)
from mltrail.store.schema_models import (
    logged_model_metrics,
    logged_model_params,
    logged_model_tags,
    logged_models,
    model_version_tags,
    model_versions,
    registered_model_aliases,
    registered_model_tags,
    registered_models,
)
from mltrail.store.sql import metrics
from mltrail.store.sql.logged_models import encode_value as encode_model_metric
from mltrail.store.sql.metrics import Series
from mltrail.store.sql.prepared import Prepared

# Rows per executemany: bounded so that no driver builds a statement of unbounded size.
ROWS_PER_STATEMENT = 5_000
IN_LIMIT = 500


@dataclass(frozen=True)
class ExperimentRow:
    name: str
    artifact_location: str | None
    lifecycle_stage: str
    creation_time: int
    last_update_time: int
    deleted_time: int | None = None
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RunRow:
    run_id: str
    experiment_id: int
    run_name: str
    user_id: str
    status: str
    start_time: int
    end_time: int | None
    lifecycle_stage: str
    artifact_uri: str
    deleted_time: int | None = None


@dataclass(frozen=True)
class RunWrite:
    """One run to write: its row, params and tags (upserted) and points to append per key."""

    row: RunRow
    params: Mapping[str, str]
    tags: Mapping[str, str]
    series: Mapping[str, Series]
    is_new: bool


def _many(conn: Connection, stmt: Any, rows: Sequence[Mapping[str, Any]]) -> None:
    for start in range(0, len(rows), ROWS_PER_STATEMENT):
        conn.execute(stmt, list(rows[start : start + ROWS_PER_STATEMENT]))


def _parts(items: Sequence[str]) -> Iterable[list[str]]:
    for start in range(0, len(items), IN_LIMIT):
        yield list(items[start : start + IN_LIMIT])


# -- experiments -------------------------------------------------------------------


def insert_experiment(conn: Connection, row: ExperimentRow, *, default_root: str) -> int:
    """A new experiment with the given times and stage; its location defaults to root/id."""
    result = conn.execute(
        sa.insert(experiments).values(
            name=row.name,
            artifact_location=row.artifact_location or "",
            lifecycle_stage=row.lifecycle_stage,
            creation_time=row.creation_time,
            last_update_time=row.last_update_time,
            deleted_time=row.deleted_time,
        )
    )
    pk = result.inserted_primary_key
    assert pk is not None
    exp_id = int(pk[0])
    if not row.artifact_location:
        location = f"{default_root.rstrip('/')}/{exp_id}"
        conn.execute(
            sa.update(experiments)
            .where(experiments.c.experiment_id == exp_id)
            .values(artifact_location=location)
        )
    upsert_experiment_tags(conn, exp_id, row.tags)
    return exp_id


def update_experiment(conn: Connection, exp_id: int, row: ExperimentRow) -> None:
    """Bring an imported experiment's stage and tags up to date (its name stays)."""
    conn.execute(
        sa.update(experiments)
        .where(experiments.c.experiment_id == exp_id)
        .values(
            lifecycle_stage=row.lifecycle_stage,
            last_update_time=row.last_update_time,
            deleted_time=row.deleted_time,
        )
    )
    upsert_experiment_tags(conn, exp_id, row.tags)


def upsert_experiment_tags(conn: Connection, exp_id: int, values: Mapping[str, str]) -> None:
    if not values:
        return
    et = experiment_tags.c
    keys = list(values)
    for part in _parts(keys):
        conn.execute(
            sa.delete(experiment_tags).where(et.experiment_id == exp_id, et["key"].in_(part))
        )
    _many(
        conn,
        sa.insert(experiment_tags),
        [{"experiment_id": exp_id, "key": k, "value": v} for k, v in values.items()],
    )


# -- runs ----------------------------------------------------------------------------


def existing_runs(conn: Connection, run_ids: Sequence[str]) -> dict[str, int]:
    """run_id -> experiment id, for the given ids that exist."""
    out: dict[str, int] = {}
    for part in _parts(list(run_ids)):
        query = sa.select(runs.c.run_id, runs.c.experiment_id).where(runs.c.run_id.in_(part))
        out.update({rid: int(exp) for rid, exp in conn.execute(query)})
    return out


def write_runs(conn: Connection, batch: Sequence[RunWrite]) -> None:
    """Insert new runs and update existing ones, all in the caller's transaction."""
    new = [w for w in batch if w.is_new]
    old = [w for w in batch if not w.is_new]
    if new:
        _insert_new_runs(conn, new)
    for write in old:
        _update_run(conn, write)


def _run_values(row: RunRow) -> dict[str, Any]:
    return {
        "run_id": row.run_id,
        "experiment_id": row.experiment_id,
        "run_name": row.run_name,
        "user_id": row.user_id,
        "status": row.status,
        "start_time": row.start_time,
        "end_time": row.end_time,
        "lifecycle_stage": row.lifecycle_stage,
        "artifact_uri": row.artifact_uri,
        "deleted_time": row.deleted_time,
    }


def _prepared_many(conn: Connection, stmt: Prepared, rows: Sequence[Mapping[str, Any]]) -> None:
    for start in range(0, len(rows), ROWS_PER_STATEMENT):
        stmt.execute_many(conn, rows[start : start + ROWS_PER_STATEMENT])


def _insert_new_runs(conn: Connection, batch: Sequence[RunWrite]) -> None:
    _prepared_many(conn, _INSERT_RUN, [_run_values(w.row) for w in batch])
    param_rows = [
        {"run_id": w.row.run_id, "key": k, "value": v} for w in batch for k, v in w.params.items()
    ]
    tag_rows = [
        {"run_id": w.row.run_id, "key": k, "value": v} for w in batch for k, v in w.tags.items()
    ]
    _prepared_many(conn, _INSERT_PARAM, param_rows)
    _prepared_many(conn, _INSERT_TAG, tag_rows)
    owners = [
        (w.row.run_id, key, series)
        for w in batch
        for key, series in w.series.items()
        if len(series)
    ]
    chunk_rows: list[dict[str, Any]] = []
    chunk_counts: list[int] = []
    for run_id, key, series in owners:
        rows = metrics._chunk_rows(run_id, key, series)
        chunk_counts.append(len(rows))
        chunk_rows.extend(rows)
        if len(chunk_rows) >= ROWS_PER_STATEMENT:
            metrics._INSERT_CHUNK.execute_many(conn, chunk_rows)
            chunk_rows = []
    if chunk_rows:
        metrics._INSERT_CHUNK.execute_many(conn, chunk_rows)
    summaries = summaries_of([series for _, _, series in owners])
    summary_rows = []
    for (run_id, key, _), summary, chunks in zip(owners, summaries, chunk_counts, strict=True):
        summary.chunk_count = chunks
        summary_rows.append({"run_id": run_id, "key": key, **summary.columns()})
    _prepared_many(conn, _INSERT_SUMMARY, summary_rows)


def summaries_of(series_list: Sequence[Series]) -> list[metrics._Summary]:
    """``_Summary.of_series`` of many series at once (a few numpy passes, not one per series).

    Series are sorted by step then timestamp, so the latest point is the last one, unless
    the last two share step and timestamp: those few take the per-series path, which
    breaks the tie by value (MLflow's rule).
    """
    if not series_list:
        return []
    lengths = np.array([len(s) for s in series_list], dtype=np.int64)
    ends = np.cumsum(lengths)
    starts = ends - lengths
    values = np.concatenate([s.values for s in series_list])
    steps = np.concatenate([s.steps for s in series_list])
    stamps = np.concatenate([s.timestamps for s in series_list])
    nan = np.isnan(values)
    lows = np.minimum.reduceat(np.where(nan, np.inf, values), starts).tolist()
    highs = np.maximum.reduceat(np.where(nan, -np.inf, values), starts).tolist()
    numbers = np.add.reduceat((~nan).astype(np.int64), starts).tolist()
    last = ends - 1
    before = np.maximum(last - 1, 0)
    tied = (
        (lengths > 1) & (steps[last] == steps[before]) & (stamps[last] == stamps[before])
    ).tolist()
    out = []
    for i, (value, step, stamp) in enumerate(
        zip(values[last].tolist(), steps[last].tolist(), stamps[last].tolist(), strict=True)
    ):
        if tied[i]:
            out.append(metrics._Summary.of_series(series_list[i]))
            continue
        has_number = numbers[i] > 0
        out.append(
            metrics._Summary(
                value=value,
                step=step,
                timestamp=stamp,
                min=lows[i] if has_number else None,
                max=highs[i] if has_number else None,
                count=int(lengths[i]),
                chunk_count=0,
            )
        )
    return out


_INSERT_RUN = Prepared(
    sa.insert(runs),
    column_keys=(
        "run_id",
        "experiment_id",
        "run_name",
        "user_id",
        "status",
        "start_time",
        "end_time",
        "lifecycle_stage",
        "artifact_uri",
        "deleted_time",
    ),
)
_INSERT_PARAM = Prepared(sa.insert(params), column_keys=("run_id", "key", "value"))
_INSERT_TAG = Prepared(sa.insert(tags), column_keys=("run_id", "key", "value"))
_INSERT_SUMMARY = Prepared(
    sa.insert(metric_summaries),
    column_keys=(
        "run_id",
        "key",
        "value",
        "value_kind",
        "step",
        "timestamp",
        "min_value",
        "max_value",
        "count",
        "chunk_count",
    ),
)


def _update_run(conn: Connection, write: RunWrite) -> None:
    values = _run_values(write.row)
    run_id = values.pop("run_id")
    conn.execute(sa.update(runs).where(runs.c.run_id == run_id).values(**values))
    _upsert_children(conn, params, run_id, write.params, keep_existing=True)
    _upsert_children(conn, tags, run_id, write.tags, keep_existing=False)
    groups = {key: series for key, series in write.series.items() if len(series)}
    if groups:
        metrics.append_series(conn, run_id, groups)


def _upsert_children(
    conn: Connection,
    table: sa.Table,
    run_id: str,
    values: Mapping[str, str],
    *,
    keep_existing: bool,
) -> None:
    """Key/value rows of a run: insert the missing ones, update (or keep) the others."""
    if not values:
        return
    current: dict[str, str] = {}
    for part in _parts(list(values)):
        query = sa.select(table.c["key"], table.c.value).where(
            table.c.run_id == run_id, table.c["key"].in_(part)
        )
        current.update({k: v for k, v in conn.execute(query)})
    if not keep_existing:
        for key, value in values.items():
            if key in current and current[key] != value:
                conn.execute(
                    sa.update(table)
                    .where(table.c.run_id == run_id, table.c["key"] == key)
                    .values(value=value)
                )
    missing = [
        {"run_id": run_id, "key": k, "value": v} for k, v in values.items() if k not in current
    ]
    _many(conn, sa.insert(table), missing)


def read_series(conn: Connection, run_id: str, keys: Iterable[str]) -> dict[str, Series]:
    """The stored points of the given keys of a run (empty series for absent keys)."""
    return {key: metrics.read_series(conn, run_id, key) for key in keys}


# -- logged models -------------------------------------------------------------------


def existing_logged_models(conn: Connection, model_ids: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for part in _parts(list(model_ids)):
        query = sa.select(logged_models.c.model_id).where(logged_models.c.model_id.in_(part))
        found.update(conn.execute(query).scalars())
    return found


def write_logged_model(conn: Connection, model: LoggedModel, *, is_new: bool) -> None:
    """Insert a logged model with its id, params, tags and linked metrics, or refresh one."""
    values = {
        "experiment_id": int(model.experiment_id),
        "name": model.name,
        "artifact_location": model.artifact_location,
        "creation_timestamp": model.creation_timestamp,
        "last_updated_timestamp": model.last_updated_timestamp,
        "status": model.status.value,
        "status_message": model.status_message,
        "model_type": model.model_type,
        "source_run_id": model.source_run_id,
        "lifecycle_stage": model.lifecycle_stage,
    }
    lm = logged_models.c
    if is_new:
        conn.execute(sa.insert(logged_models).values(model_id=model.model_id, **values))
    else:
        conn.execute(sa.update(logged_models).where(lm.model_id == model.model_id).values(**values))
    ident = {"model_id": model.model_id}
    _replace_keys(conn, logged_model_params, ident, model.params)
    _replace_keys(conn, logged_model_tags, ident, model.tags)
    # The linked metrics are few (those of the step the model was logged at): rewritten whole.
    mm = logged_model_metrics
    conn.execute(sa.delete(mm).where(mm.c.model_id == model.model_id))
    rows = []
    for m in model.metrics:
        value, kind = encode_model_metric(m.value)
        rows.append(
            {
                "model_id": model.model_id,
                "key": m.key,
                "value": value,
                "value_kind": kind,
                "timestamp": m.timestamp,
                "step": m.step,
                "run_id": m.run_id,
                "dataset_name": m.dataset_name,
                "dataset_digest": m.dataset_digest,
            }
        )
    _many(conn, sa.insert(mm), rows)


# -- registry ------------------------------------------------------------------------


@dataclass(frozen=True)
class RegisteredModelRow:
    name: str
    creation_timestamp: int
    last_updated_timestamp: int
    description: str | None
    user_id: str | None
    tags: Mapping[str, str]
    aliases: Mapping[str, int]
    versions: Sequence[ModelVersion]
    last_version: int


def registered_model_id(conn: Connection, name: str) -> int | None:
    found = conn.execute(
        sa.select(registered_models.c.id).where(registered_models.c.name == name)
    ).scalar()
    return None if found is None else int(found)


def write_registered_model(conn: Connection, model: RegisteredModelRow) -> int:
    """Insert or refresh a registered model by name: its versions keep their numbers.

    Versions, tags and aliases present in the target but not in ``model`` are kept.
    """
    rm = registered_models.c
    rm_id = registered_model_id(conn, model.name)
    values = {
        "creation_timestamp": model.creation_timestamp,
        "last_updated_timestamp": model.last_updated_timestamp,
        "description": model.description,
        "user_id": model.user_id,
    }
    if rm_id is None:
        result = conn.execute(
            sa.insert(registered_models).values(
                name=model.name, last_version=model.last_version, **values
            )
        )
        pk = result.inserted_primary_key
        assert pk is not None
        rm_id = int(pk[0])
    else:
        current = int(conn.execute(sa.select(rm.last_version).where(rm.id == rm_id)).scalar_one())
        conn.execute(
            sa.update(registered_models)
            .where(rm.id == rm_id)
            .values(last_version=max(current, model.last_version), **values)
        )
    _replace_keys(conn, registered_model_tags, {"registered_model_id": rm_id}, model.tags)
    for version in model.versions:
        _write_version(conn, rm_id, version)
    a = registered_model_aliases.c
    for alias, number in model.aliases.items():
        conn.execute(
            sa.delete(registered_model_aliases).where(
                a.registered_model_id == rm_id, a.alias == alias
            )
        )
        conn.execute(
            sa.insert(registered_model_aliases).values(
                registered_model_id=rm_id, alias=alias, version=number
            )
        )
    return rm_id


def _write_version(conn: Connection, rm_id: int, version: ModelVersion) -> None:
    mv = model_versions.c
    values = {
        "creation_timestamp": version.creation_timestamp,
        "last_updated_timestamp": version.last_updated_timestamp,
        "description": version.description,
        "user_id": version.user_id,
        "current_stage": version.current_stage,
        "source": version.source,
        "storage_location": version.storage_location,
        "run_id": version.run_id,
        "run_link": version.run_link,
        "model_id": version.model_id,
        "status": version.status,
        "status_message": version.status_message,
    }
    where = (mv.registered_model_id == rm_id, mv.version == version.version)
    exists = conn.execute(sa.select(mv.version).where(*where)).first() is not None
    if exists:
        conn.execute(sa.update(model_versions).where(*where).values(**values))
    else:
        conn.execute(
            sa.insert(model_versions).values(
                registered_model_id=rm_id, version=version.version, **values
            )
        )
    ident = {"registered_model_id": rm_id, "version": version.version}
    _replace_keys(conn, model_version_tags, ident, version.tags)


def _replace_keys(
    conn: Connection, table: sa.Table, ident: Mapping[str, Any], values: Mapping[str, str]
) -> None:
    """Set key/value rows of one owner (other keys stay)."""
    if not values:
        return
    where = [table.c[k] == v for k, v in ident.items()]
    for part in _parts(list(values)):
        conn.execute(sa.delete(table).where(*where, table.c["key"].in_(part)))
    _many(conn, sa.insert(table), [{**ident, "key": k, "value": v} for k, v in values.items()])
