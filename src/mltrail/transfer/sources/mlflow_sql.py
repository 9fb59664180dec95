"""MLflow's own database (SQLite, PostgreSQL, MySQL) read directly with SQLAlchemy Core.

The fast path of ``mltrail import mlflow``: one query per table and experiment for runs,
params and tags, and metric points a few hundred thousand at a time. The database is
opened read-only (SQLite in ``mode=ro``) and only at the schema revision it was tested
with (:data:`TESTED_REVISIONS`); any other is refused before a row is read.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import sqlalchemy as sa
from sqlalchemy import Connection, Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

from mltrail.config import Settings
from mltrail.model_entities import LoggedModel
from mltrail.store.sql.engine import is_unreachable, normalize_uri
from mltrail.store.sql.metrics import Series, sorted_series
from mltrail.transfer.errors import NotSourceData, SourceUnreachable, UntestedSchema
from mltrail.transfer.records import (
    ACTIVE,
    DELETED,
    ArtifactFile,
    DatasetInput,
    ExperimentRecord,
    RegisteredModelRecord,
    RunRecord,
    digest,
)
from mltrail.transfer.sources import mlflow_sql_models as models
from mltrail.transfer.sources.locations import LocationReader

# Alembic head of MLflow 3.17.2's tracking schema: the one the import is tested against.
TESTED_REVISIONS = {"dc11669786a5": "MLflow 3.17.2"}
IN_LIMIT = 500


def _in_parts(items: Sequence[str]) -> Iterator[list[str]]:
    for start in range(0, len(items), IN_LIMIT):
        yield list(items[start : start + IN_LIMIT])


def open_read_only(uri: str) -> Engine:
    """An engine on ``uri`` that cannot change the source (SQLite ``mode=ro``)."""
    normalized = normalize_uri(uri)
    try:
        url = make_url(normalized)
    except ArgumentError as exc:
        raise NotSourceData(f"Not a database URI: {uri!r}") from exc
    if url.get_backend_name() == "sqlite":
        path = Path(url.database or "")
        if not path.is_file():
            raise NotSourceData(f"No database file at {path} (from {uri})")
        return sa.create_engine(f"sqlite:///file:{quote(str(path.resolve()))}?mode=ro&uri=true")
    return sa.create_engine(url, pool_pre_ping=True)


class MlflowSqlSource:
    counts_are_cheap = True

    def __init__(
        self,
        uri: str,
        *,
        settings: Settings,
        mlflow_artifacts_root: str | None = None,
        workspace: str = "default",
    ) -> None:
        self.uri = uri
        self.label = f"MLflow database {_redacted(uri)}"
        self._engine = open_read_only(uri)
        self._workspace = workspace
        self._counts: dict[str, dict[str, int]] = {}
        self._estimates: dict[str, int] = {}
        base = None
        if uri.startswith("sqlite:"):
            base = Path(make_url(normalize_uri(uri)).database or ".").resolve().parent
        self._reader = LocationReader(
            settings=settings, mlflow_artifacts_root=mlflow_artifacts_root, base_dir=base
        )
        try:
            with self._engine.connect() as conn:
                self.revision = self._check_schema(conn)
                self._has_workspaces = "workspace" in {
                    c["name"] for c in sa.inspect(conn).get_columns("experiments")
                }
        except SQLAlchemyError as exc:
            self._engine.dispose()
            if is_unreachable(exc):
                raise SourceUnreachable(
                    f"Cannot reach the MLflow database {_redacted(uri)}: "
                    f"{str(getattr(exc, 'orig', exc)).splitlines()[0]}"
                ) from exc
            raise NotSourceData(
                f"Cannot read {_redacted(uri)} as an MLflow database: "
                f"{str(getattr(exc, 'orig', exc)).splitlines()[0]}"
            ) from exc
        except BaseException:
            self._engine.dispose()
            raise
        self._meta = sa.MetaData()

    def _check_schema(self, conn: Connection) -> str:
        tables = set(sa.inspect(conn).get_table_names())
        if "metric_chunks" in tables:
            raise NotSourceData(
                f"{_redacted(self.uri)} is an mltrail database; use `mltrail import mltrail`"
            )
        if "alembic_version" not in tables or not {"experiments", "runs", "metrics"} <= tables:
            raise NotSourceData(
                f"{_redacted(self.uri)} is not an MLflow database (no MLflow tables found)"
            )
        revision = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
        if revision is None:
            raise NotSourceData(f"{_redacted(self.uri)} has no MLflow schema revision")
        revision = str(revision)
        if revision in TESTED_REVISIONS:
            return revision
        tested = ", ".join(f"{rev} ({name})" for rev, name in TESTED_REVISIONS.items())
        raise UntestedSchema(
            f"The MLflow database {_redacted(self.uri)} is at schema revision {revision}, which "
            f"this import was not tested with (tested: {tested}). If it comes from an older "
            "MLflow, upgrade a copy of it with `mlflow db upgrade URI` of MLflow 3.17.2 first; "
            "a newer MLflow's schema is not supported yet."
        )

    def _table(self, name: str) -> sa.Table:
        if name not in self._meta.tables:
            return sa.Table(name, self._meta, autoload_with=self._engine)
        return self._meta.tables[name]

    def _ws(self, table: sa.Table) -> list[Any]:
        if self._has_workspaces and "workspace" in table.c:
            return [table.c.workspace == self._workspace]
        return []

    def _connect(self) -> Any:
        try:
            return self._engine.connect()
        except DBAPIError as exc:
            raise SourceUnreachable(
                f"Lost the MLflow database {_redacted(self.uri)}: {str(exc.orig).splitlines()[0]}"
            ) from exc

    # -- experiments and runs ------------------------------------------------------

    def experiments(self) -> list[ExperimentRecord]:
        exps = self._table("experiments")
        tags = self._table("experiment_tags")
        with self._connect() as conn:
            tag_map: dict[int, dict[str, str]] = {}
            for exp_id, key, value in conn.execute(
                sa.select(tags.c.experiment_id, tags.c.key, tags.c.value)
            ):
                tag_map.setdefault(int(exp_id), {})[key] = value or ""
            rows = conn.execute(
                sa.select(exps).where(*self._ws(exps)).order_by(exps.c.experiment_id)
            ).all()
        out = []
        for r in rows:
            stage = r.lifecycle_stage or ACTIVE
            out.append(
                ExperimentRecord(
                    source_id=str(r.experiment_id),
                    name=r.name,
                    artifact_location=r.artifact_location or "",
                    lifecycle_stage=stage,
                    creation_time=int(r.creation_time or 0),
                    last_update_time=int(r.last_update_time or r.creation_time or 0),
                    deleted_time=int(r.last_update_time or 0) if stage == DELETED else None,
                    tags=tag_map.get(int(r.experiment_id), {}),
                )
            )
        return out

    def runs(self, experiment: ExperimentRecord) -> list[RunRecord]:
        runs = self._table("runs")
        exp_id = int(experiment.source_id)
        with self._connect() as conn:
            rows = conn.execute(
                sa.select(runs).where(runs.c.experiment_id == exp_id).order_by(runs.c.start_time)
            ).all()
            params = self._pairs(conn, "params", exp_id)
            tags = self._pairs(conn, "tags", exp_id)
            latest = self._latest(conn, exp_id)
            datasets = self._datasets(conn, exp_id)
            model_inputs, outputs = self._model_io(conn, exp_id)
        out = []
        for r in rows:
            run_id = r.run_uuid
            out.append(
                RunRecord(
                    run_id=run_id,
                    experiment_id=experiment.source_id,
                    run_name=r.name or "",
                    user_id=r.user_id or "",
                    status=r.status or "FINISHED",
                    start_time=int(r.start_time or 0),
                    end_time=None if r.end_time is None else int(r.end_time),
                    lifecycle_stage=r.lifecycle_stage or ACTIVE,
                    artifact_uri=r.artifact_uri or "",
                    deleted_time=None if r.deleted_time is None else int(r.deleted_time),
                    params=params.get(run_id, {}),
                    tags=tags.get(run_id, {}),
                    datasets=tuple(datasets.get(run_id, [])),
                    model_inputs=tuple(model_inputs.get(run_id, [])),
                    model_outputs=tuple(outputs.get(run_id, [])),
                    metrics_hint=digest(latest.get(run_id, [])),
                )
            )
        return out

    def _pairs(self, conn: Connection, name: str, exp_id: int) -> dict[str, dict[str, str]]:
        table, runs = self._table(name), self._table("runs")
        query = (
            sa.select(table.c.run_uuid, table.c.key, table.c.value)
            .join(runs, runs.c.run_uuid == table.c.run_uuid)
            .where(runs.c.experiment_id == exp_id)
        )
        out: dict[str, dict[str, str]] = {}
        for run_id, key, value in conn.execute(query):
            out.setdefault(run_id, {})[key] = "" if value is None else value
        return out

    def _latest(self, conn: Connection, exp_id: int) -> dict[str, list[Any]]:
        latest, runs = self._table("latest_metrics"), self._table("runs")
        query = (
            sa.select(
                latest.c.run_uuid,
                latest.c.key,
                latest.c.value,
                latest.c.timestamp,
                latest.c.step,
                latest.c.is_nan,
            )
            .join(runs, runs.c.run_uuid == latest.c.run_uuid)
            .where(runs.c.experiment_id == exp_id)
            .order_by(latest.c.run_uuid, latest.c.key)
        )
        out: dict[str, list[Any]] = {}
        for run_id, *rest in conn.execute(query):
            out.setdefault(run_id, []).append([rest[0], rest[1], rest[2], bool(rest[3])])
            self._estimates[run_id] = self._estimates.get(run_id, 0) + int(rest[2] or 0) + 1
        return out

    def _count_points(self, conn: Connection, run_ids: Sequence[str]) -> None:
        metrics = self._table("metrics")
        for part in _in_parts(list(run_ids)):
            query = (
                sa.select(metrics.c.run_uuid, metrics.c.key, sa.func.count())
                .where(metrics.c.run_uuid.in_(part))
                .group_by(metrics.c.run_uuid, metrics.c.key)
            )
            for run_id in part:
                self._counts.setdefault(run_id, {})
            for run_id, key, count in conn.execute(query):
                self._counts[run_id][key] = int(count)

    def _datasets(self, conn: Connection, exp_id: int) -> dict[str, list[DatasetInput]]:
        inputs, datasets = self._table("inputs"), self._table("datasets")
        input_tags, runs = self._table("input_tags"), self._table("runs")
        query = (
            sa.select(
                inputs.c.destination_id,
                inputs.c.input_uuid,
                datasets.c.dataset_uuid,
                datasets.c.name,
                datasets.c.digest,
                datasets.c.dataset_source_type,
                datasets.c.dataset_source,
                datasets.c.dataset_schema,
                datasets.c.dataset_profile,
            )
            .join(datasets, datasets.c.dataset_uuid == inputs.c.source_id)
            .join(runs, runs.c.run_uuid == inputs.c.destination_id)
            .where(
                inputs.c.source_type == "DATASET",
                inputs.c.destination_type == "RUN",
                runs.c.experiment_id == exp_id,
            )
            .order_by(inputs.c.destination_id, datasets.c.name, datasets.c.digest)
        )
        rows = conn.execute(query).all()
        tags: dict[str, dict[str, str]] = {}
        uuids = [r.input_uuid for r in rows]
        for part in _in_parts(uuids):
            for input_uuid, name, value in conn.execute(
                sa.select(input_tags.c.input_uuid, input_tags.c.name, input_tags.c.value).where(
                    input_tags.c.input_uuid.in_(part)
                )
            ):
                tags.setdefault(input_uuid, {})[name] = value
        # MLflow shows one input per dataset and run, with the tags of all its input rows.
        merged: dict[tuple[str, str], dict[str, Any]] = {}
        for r in rows:
            entry = merged.setdefault(
                (r.destination_id, r.dataset_uuid),
                {
                    "name": r.name,
                    "digest": r.digest,
                    "source_type": r.dataset_source_type,
                    "source": r.dataset_source,
                    "schema": r.dataset_schema,
                    "profile": r.dataset_profile,
                    "tags": {},
                },
            )
            entry["tags"].update(tags.get(r.input_uuid, {}))
        out: dict[str, list[DatasetInput]] = {}
        for (run_id, _), entry in merged.items():
            out.setdefault(run_id, []).append(DatasetInput(**entry))
        return out

    def _model_io(
        self, conn: Connection, exp_id: int
    ) -> tuple[dict[str, list[str]], dict[str, list[tuple[str, int]]]]:
        inputs, runs = self._table("inputs"), self._table("runs")
        query = (
            sa.select(
                inputs.c.source_type, inputs.c.source_id, inputs.c.destination_id, inputs.c.step
            )
            .join(runs, runs.c.run_uuid == inputs.c.source_id)
            .where(
                runs.c.experiment_id == exp_id,
                inputs.c.source_type.in_(["RUN_INPUT", "RUN_OUTPUT"]),
            )
            .order_by(inputs.c.source_id, inputs.c.destination_id)
        )
        model_inputs: dict[str, list[str]] = {}
        outputs: dict[str, list[tuple[str, int]]] = {}
        for kind, run_id, model_id, step in conn.execute(query):
            if kind == "RUN_INPUT":
                model_inputs.setdefault(run_id, []).append(model_id)
            else:
                outputs.setdefault(run_id, []).append((model_id, int(step or 0)))
        return model_inputs, outputs

    # -- metrics -----------------------------------------------------------------

    def metric_counts(self, runs: Sequence[RunRecord]) -> dict[str, dict[str, int]]:
        missing = [r.run_id for r in runs if r.run_id not in self._counts]
        if missing:
            with self._connect() as conn:
                self._count_points(conn, missing)
        return {r.run_id: dict(self._counts.get(r.run_id, {})) for r in runs}

    def point_estimate(self, runs: Sequence[RunRecord]) -> int:
        """About how many points the runs hold (from their latest steps; no count query)."""
        return sum(self._estimates.get(r.run_id, 0) for r in runs)

    def series(self, runs: Sequence[RunRecord]) -> Iterator[tuple[str, dict[str, Series]]]:
        """One query per run on the driver's own cursor: SQLAlchemy's row objects would
        cost more than the rows themselves (6,000,000 points in the benchmark)."""
        metrics = self._table("metrics")
        c = metrics.c
        query = sa.select(c.key, c.step, c.timestamp, c.value, c.is_nan).where(
            c.run_uuid == sa.bindparam("run_id")
        )
        compiled = query.compile(dialect=self._engine.dialect)
        sql = str(compiled)
        positional = bool(self._engine.dialect.positional)
        raw = self._engine.raw_connection()
        try:
            cursor = raw.cursor()
            try:
                for run in runs:
                    cursor.execute(sql, (run.run_id,) if positional else {"run_id": run.run_id})
                    grouped = _group_rows(cursor.fetchall())
                    self._counts[run.run_id] = {k: len(v) for k, v in grouped.items()}
                    yield run.run_id, grouped
            finally:
                cursor.close()
        finally:
            raw.close()

    # -- models ------------------------------------------------------------------

    def logged_models(self, experiment: ExperimentRecord) -> list[LoggedModel]:
        if "logged_models" not in set(sa.inspect(self._engine).get_table_names()):
            return []
        with self._connect() as conn:
            return models.logged_models(conn, self._table, experiment)

    def registered_models(self) -> list[RegisteredModelRecord]:
        with self._connect() as conn:
            return models.registered_models(conn, self._table, self._ws)

    # -- artifacts -----------------------------------------------------------------

    def list_artifacts(self, location: str) -> list[ArtifactFile]:
        return self._reader.list(location)

    def location_exists(self, location: str) -> bool:
        return self._reader.exists(location)

    def open_artifact(self, location: str, path: str) -> Iterator[bytes]:
        return self._reader.open(location, path)

    def readable_location(self, location: str) -> str:
        return self._reader.resolve(location)

    def close(self) -> None:
        self._engine.dispose()


def _group_rows(rows: Sequence[Any]) -> dict[str, Series]:
    """Rows (key, step, timestamp, value, is_nan) of one run as a sorted series per key."""
    if not rows:
        return {}
    keys, steps, stamps, values, nans = zip(*rows, strict=True)
    codes: dict[str, int] = {}
    code = np.fromiter(
        (codes.setdefault(k, len(codes)) for k in keys), dtype=np.int64, count=len(keys)
    )
    value_array = np.array(values, dtype=np.float64)
    nan_array = np.array(nans, dtype=bool)
    if nan_array.any():
        value_array[nan_array] = np.nan
    step_array = np.array(steps, dtype=np.int64)
    stamp_array = np.array(stamps, dtype=np.int64)
    if len(codes) == 1:
        return {keys[0]: sorted_series(step_array, stamp_array, value_array)}
    order = np.argsort(code, kind="stable")
    bounds = np.flatnonzero(np.diff(code[order])) + 1
    out: dict[str, Series] = {}
    for part in np.split(order, bounds):
        key = keys[int(part[0])]
        out[key] = sorted_series(step_array[part], stamp_array[part], value_array[part])
    return out


def _redacted(uri: str) -> str:
    """The URI without its password (messages and summaries are shown and logged)."""
    try:
        url = make_url(normalize_uri(uri))
    except Exception:
        return uri
    if url.password:
        return uri.replace(f":{url.password}@", ":***@")
    return uri
