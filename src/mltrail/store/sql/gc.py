"""Permanent deletion of soft-deleted runs and experiments (``mltrail gc``).

Rows that hang off a run or an experiment are deleted explicitly, children first, by walking
the foreign keys declared in the schema: ``ON DELETE CASCADE`` is declared too, but SQLite only
honours it on connections with ``PRAGMA foreign_keys=ON``, and a database another tool opened
may not have it. New tables that reference runs or experiments are picked up by the walk.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Connection, Engine, Table, inspect, select

from mltrail.entities import LifecycleStage
from mltrail.errors import InvalidParameterValue
from mltrail.store import schema
from mltrail.store.schema import experiments, metadata, runs
from mltrail.store.sql.engine import read_connection, run_write

# The experiment every store creates; like MLflow, it is never removed.
DEFAULT_EXPERIMENT_ID = 0
# Bound on the ids in one IN (...) list, well under every backend's parameter limit.
_BATCH = 500
_DELETED = LifecycleStage.DELETED.value


@dataclass(frozen=True)
class DeletedRun:
    run_id: str
    experiment_id: str
    artifact_uri: str
    deleted_time: int | None


@dataclass(frozen=True)
class DeletedExperiment:
    experiment_id: str
    name: str
    artifact_location: str
    deleted_time: int | None
    # Every run of the experiment (they go with it whatever their own state).
    runs: tuple[DeletedRun, ...]


def _load_schema_modules() -> None:
    # Tables live in mltrail.store.schema and its siblings (schema_models, ...); all of them
    # must be in ``metadata`` for the foreign-key walk to see every child table.
    package = schema.__name__.rpartition(".")[0]
    path = importlib.import_module(package).__path__
    for info in pkgutil.iter_modules(path):
        if info.name.startswith("schema"):
            importlib.import_module(f"{package}.{info.name}")


def _parse_experiment_ids(ids: Sequence[str] | None) -> list[int] | None:
    if ids is None:
        return None
    out: list[int] = []
    for raw in ids:
        try:
            out.append(int(str(raw).strip()))
        except ValueError:
            raise InvalidParameterValue(
                f"Invalid experiment id {raw!r}: expected an integer"
            ) from None
    return out


def _batches(ids: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for i in range(0, len(ids), _BATCH):
        yield ids[i : i + _BATCH]


def _is_old_enough(column: Column[Any], cutoff_ms: int | None) -> Any:
    # With a cutoff, rows without a deletion time are kept: their age is unknown.
    if cutoff_ms is None:
        return True
    return column <= cutoff_ms


class SqlGarbageStore:
    """Finds and purges soft-deleted runs and experiments in one SQL database."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        _load_schema_modules()

    def deleted_runs(
        self,
        *,
        cutoff_ms: int | None,
        experiment_ids: Sequence[str] | None = None,
        run_ids: Sequence[str] | None = None,
    ) -> list[DeletedRun]:
        """Soft-deleted runs deleted at or before ``cutoff_ms`` (any time if None)."""
        exp_ids = _parse_experiment_ids(experiment_ids)
        query = (
            select(runs.c.run_id, runs.c.experiment_id, runs.c.artifact_uri, runs.c.deleted_time)
            .where(runs.c.lifecycle_stage == _DELETED)
            .where(_is_old_enough(runs.c.deleted_time, cutoff_ms))
            .order_by(runs.c.experiment_id, runs.c.run_id)
        )
        if exp_ids is not None:
            query = query.where(runs.c.experiment_id.in_(exp_ids))
        if run_ids is not None:
            query = query.where(runs.c.run_id.in_(list(run_ids)))
        with read_connection(self._engine) as conn:
            return [_run(row) for row in conn.execute(query)]

    def deleted_experiments(
        self, *, cutoff_ms: int | None, experiment_ids: Sequence[str] | None = None
    ) -> list[DeletedExperiment]:
        """Soft-deleted experiments deleted at or before ``cutoff_ms``, with all their runs."""
        exp_ids = _parse_experiment_ids(experiment_ids)
        e = experiments.c
        query = (
            select(e.experiment_id, e.name, e.artifact_location, e.deleted_time)
            .where(e.lifecycle_stage == _DELETED)
            .where(e.experiment_id != DEFAULT_EXPERIMENT_ID)
            .where(_is_old_enough(e.deleted_time, cutoff_ms))
            .order_by(e.experiment_id)
        )
        if exp_ids is not None:
            query = query.where(e.experiment_id.in_(exp_ids))
        with read_connection(self._engine) as conn:
            rows = list(conn.execute(query))
            out: list[DeletedExperiment] = []
            for row in rows:
                run_rows = conn.execute(
                    select(
                        runs.c.run_id,
                        runs.c.experiment_id,
                        runs.c.artifact_uri,
                        runs.c.deleted_time,
                    )
                    .where(runs.c.experiment_id == row.experiment_id)
                    .order_by(runs.c.run_id)
                )
                out.append(
                    DeletedExperiment(
                        experiment_id=str(row.experiment_id),
                        name=str(row.name),
                        artifact_location=str(row.artifact_location),
                        deleted_time=row.deleted_time,
                        runs=tuple(_run(r) for r in run_rows),
                    )
                )
        return out

    def purge_runs(self, run_ids: Sequence[str]) -> list[str]:
        """Delete these runs and their rows if they are still deleted; returns those removed.

        A run restored since it was listed is left alone.
        """

        def work(conn: Connection) -> list[str]:
            still: list[str] = []
            for batch in _batches(list(run_ids)):
                still.extend(
                    str(r)
                    for r in conn.execute(
                        select(runs.c.run_id)
                        .where(runs.c.run_id.in_(batch))
                        .where(runs.c.lifecycle_stage == _DELETED)
                    ).scalars()
                )
            _delete_rows(conn, runs, runs.c.run_id, still, existing=_existing_tables(conn))
            return still

        return run_write(self._engine, work) if run_ids else []

    def purge_experiments(self, experiment_ids: Sequence[str]) -> list[str]:
        """Delete these experiments, all their runs and every row under them, if they are
        still deleted; returns the experiment ids removed."""
        ids = [i for i in _parse_experiment_ids(experiment_ids) or [] if i != DEFAULT_EXPERIMENT_ID]

        def work(conn: Connection) -> list[str]:
            still: list[int] = []
            for batch in _batches(ids):
                still.extend(
                    int(r)
                    for r in conn.execute(
                        select(experiments.c.experiment_id)
                        .where(experiments.c.experiment_id.in_(batch))
                        .where(experiments.c.lifecycle_stage == _DELETED)
                    ).scalars()
                )
            _delete_rows(
                conn,
                experiments,
                experiments.c.experiment_id,
                still,
                existing=_existing_tables(conn),
            )
            return [str(i) for i in still]

        return run_write(self._engine, work) if ids else []


def _run(row: Any) -> DeletedRun:
    return DeletedRun(
        run_id=str(row.run_id),
        experiment_id=str(row.experiment_id),
        artifact_uri=str(row.artifact_uri),
        deleted_time=row.deleted_time,
    )


def _existing_tables(conn: Connection) -> frozenset[str]:
    # A table declared in code but not (yet) created by a migration holds no rows to delete.
    return frozenset(inspect(conn).get_table_names())


def _children(
    parent: Table, *, existing: frozenset[str]
) -> list[tuple[Table, Column[Any], Column[Any]]]:
    """(child table, its referencing column, the referenced column of ``parent``)."""
    out: list[tuple[Table, Column[Any], Column[Any]]] = []
    for table in metadata.sorted_tables:
        if table.name not in existing:
            continue
        for fk in table.foreign_key_constraints:
            if fk.referred_table is not parent:
                continue
            if len(fk.elements) != 1:
                raise NotImplementedError(
                    f"{table.name} references {parent.name} with a composite key"
                )
            element = fk.elements[0]
            out.append((table, element.parent, element.column))
    return out


def _delete_rows(
    conn: Connection,
    table: Table,
    key: Column[Any],
    values: Sequence[Any],
    *,
    existing: frozenset[str],
) -> None:
    """Delete the rows of ``table`` whose ``key`` is in ``values``, their descendants first."""
    if not values:
        return
    for child, child_col, referenced in _children(table, existing=existing):
        if child is table:
            continue
        for batch in _batches(list(values)):
            refs = (
                list(batch)
                if referenced is key
                else list(conn.execute(select(referenced).where(key.in_(batch))).scalars())
            )
            _delete_rows(conn, child, child_col, refs, existing=existing)
    for batch in _batches(list(values)):
        conn.execute(table.delete().where(key.in_(batch)))
