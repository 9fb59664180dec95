"""An mltrail database read directly: the source of ``mltrail export`` and of
``mltrail import mltrail <database>`` (moving a team between databases).

Metric chunks are decoded straight into arrays; run tags are taken as stored (the
``mltrail.inputs``/``mltrail.outputs`` tags travel as tags).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy import Connection

from mltrail.config import Settings
from mltrail.model_entities import LoggedModel, ModelVersion
from mltrail.store.schema import (
    experiment_tags,
    experiments,
    metric_chunks,
    metric_summaries,
    params,
    runs,
    tags,
)
from mltrail.store.schema_models import (
    logged_models,
    model_version_tags,
    model_versions,
    registered_model_aliases,
    registered_model_tags,
    registered_models,
)
from mltrail.store.sql.engine import create_engine_for, read_connection
from mltrail.store.sql.logged_models import _load as load_logged_models
from mltrail.store.sql.metrics import F64, I64, Series
from mltrail.store.sql.migrate import ensure_schema
from mltrail.transfer.records import (
    ArtifactFile,
    ExperimentRecord,
    RegisteredModelRecord,
    RunRecord,
    digest,
)
from mltrail.transfer.sources.base import SeriesCollector, batches_by_points
from mltrail.transfer.sources.locations import LocationReader

IN_LIMIT = 500


def _parts(items: Sequence[str]) -> Iterator[list[str]]:
    for start in range(0, len(items), IN_LIMIT):
        yield list(items[start : start + IN_LIMIT])


class MltrailSqlSource:
    counts_are_cheap = True

    def __init__(
        self,
        db_uri: str,
        *,
        settings: Settings,
        store_root: str = "",
        artifacts_root: str | None = None,
        label: str | None = None,
    ) -> None:
        self.label = label or f"mltrail store {db_uri}"
        self.engine = create_engine_for(db_uri)
        try:
            ensure_schema(self.engine)
        except BaseException:
            self.engine.dispose()
            raise
        self._reader = LocationReader(settings=settings, mlflow_artifacts_root=artifacts_root)
        self._counts: dict[str, dict[str, int]] = {}
        self._store_root = store_root

    def experiments(self) -> list[ExperimentRecord]:
        with read_connection(self.engine) as conn:
            tag_map: dict[int, dict[str, str]] = {}
            for exp_id, key, value in conn.execute(
                sa.select(
                    experiment_tags.c.experiment_id, experiment_tags.c.key, experiment_tags.c.value
                )
            ):
                tag_map.setdefault(int(exp_id), {})[key] = value
            rows = conn.execute(sa.select(experiments).order_by(experiments.c.experiment_id)).all()
        return [
            ExperimentRecord(
                source_id=str(r.experiment_id),
                name=r.name,
                artifact_location=r.artifact_location,
                lifecycle_stage=r.lifecycle_stage,
                creation_time=int(r.creation_time),
                last_update_time=int(r.last_update_time),
                deleted_time=None if r.deleted_time is None else int(r.deleted_time),
                tags=tag_map.get(int(r.experiment_id), {}),
            )
            for r in rows
        ]

    def runs(self, experiment: ExperimentRecord) -> list[RunRecord]:
        exp_id = int(experiment.source_id)
        r = runs.c
        with read_connection(self.engine) as conn:
            rows = conn.execute(
                sa.select(runs).where(r.experiment_id == exp_id).order_by(r.start_time, r.run_id)
            ).all()
            param_map = _pairs(conn, params, exp_id)
            tag_map = _pairs(conn, tags, exp_id)
            summaries = self._summaries(conn, exp_id)
        out = []
        for row in rows:
            run_id = row.run_id
            self._counts[run_id] = {k: s[0] for k, s in summaries.get(run_id, {}).items()}
            out.append(
                RunRecord(
                    run_id=run_id,
                    experiment_id=experiment.source_id,
                    run_name=row.run_name,
                    user_id=row.user_id,
                    status=row.status,
                    start_time=int(row.start_time),
                    end_time=None if row.end_time is None else int(row.end_time),
                    lifecycle_stage=row.lifecycle_stage,
                    artifact_uri=row.artifact_uri,
                    deleted_time=None if row.deleted_time is None else int(row.deleted_time),
                    params=param_map.get(run_id, {}),
                    tags=tag_map.get(run_id, {}),
                    metrics_hint=digest(sorted(summaries.get(run_id, {}).items())),
                )
            )
        return out

    def _summaries(self, conn: Connection, exp_id: int) -> dict[str, dict[str, list[int]]]:
        ms = metric_summaries.c
        query = (
            sa.select(ms.run_id, ms["key"], ms["count"], ms.step, ms.timestamp)
            .join(runs, runs.c.run_id == ms.run_id)
            .where(runs.c.experiment_id == exp_id)
        )
        out: dict[str, dict[str, list[int]]] = {}
        for run_id, key, count, step, stamp in conn.execute(query):
            out.setdefault(run_id, {})[key] = [int(count), int(step), int(stamp)]
        return out

    def metric_counts(self, runs_: Sequence[RunRecord]) -> dict[str, dict[str, int]]:
        return {r.run_id: dict(self._counts.get(r.run_id, {})) for r in runs_}

    def series(self, runs_: Sequence[RunRecord]) -> Iterator[tuple[str, dict[str, Series]]]:
        counts = self.metric_counts(runs_)
        for batch in batches_by_points(runs_, counts):
            ids = [r.run_id for r in batch if counts.get(r.run_id)]
            grouped = self._read(ids) if ids else {}
            for run in batch:
                yield run.run_id, grouped.get(run.run_id, {})

    def _read(self, run_ids: list[str]) -> dict[str, dict[str, Series]]:
        mc = metric_chunks.c
        collector = SeriesCollector()
        with read_connection(self.engine) as conn:
            for part in _parts(run_ids):
                query = sa.select(
                    mc.run_id, mc["key"], mc.steps, mc.timestamps, mc["values"]
                ).where(mc.run_id.in_(part))
                for run_id, key, steps, stamps, values in conn.execute(query):
                    collector.add_arrays(
                        run_id,
                        key,
                        np.frombuffer(steps, dtype=I64),
                        np.frombuffer(stamps, dtype=I64),
                        np.frombuffer(values, dtype=F64),
                    )
        return collector.grouped()

    def logged_models(self, experiment: ExperimentRecord) -> list[LoggedModel]:
        lm = logged_models.c
        with read_connection(self.engine) as conn:
            rows = conn.execute(
                sa.select(logged_models)
                .where(lm.experiment_id == int(experiment.source_id))
                .order_by(lm.model_id)
            ).all()
            return load_logged_models(conn, rows)

    def registered_models(self) -> list[RegisteredModelRecord]:
        rm, mv = registered_models.c, model_versions.c
        with read_connection(self.engine) as conn:
            models = conn.execute(sa.select(registered_models).order_by(rm.name)).all()
            names = {int(m.id): m.name for m in models}
            rm_tags = _owned(conn, registered_model_tags, "registered_model_id")
            aliases: dict[int, dict[str, int]] = {}
            for rm_id, alias, version in conn.execute(
                sa.select(
                    registered_model_aliases.c.registered_model_id,
                    registered_model_aliases.c.alias,
                    registered_model_aliases.c.version,
                )
            ):
                aliases.setdefault(int(rm_id), {})[alias] = int(version)
            vt: dict[tuple[int, int], dict[str, str]] = {}
            for row in conn.execute(sa.select(model_version_tags)):
                vt.setdefault((int(row.registered_model_id), int(row.version)), {})[row.key] = (
                    row.value
                )
            versions: dict[int, list[ModelVersion]] = {}
            for v in conn.execute(
                sa.select(model_versions).order_by(mv.registered_model_id, mv.version)
            ):
                rm_id = int(v.registered_model_id)
                versions.setdefault(rm_id, []).append(
                    ModelVersion(
                        name=names[rm_id],
                        version=int(v.version),
                        creation_timestamp=int(v.creation_timestamp),
                        last_updated_timestamp=int(v.last_updated_timestamp),
                        current_stage=v.current_stage,
                        description=v.description,
                        source=v.source,
                        storage_location=v.storage_location,
                        run_id=v.run_id,
                        run_link=v.run_link,
                        model_id=v.model_id,
                        user_id=v.user_id,
                        status=v.status,
                        status_message=v.status_message,
                        tags=vt.get((rm_id, int(v.version)), {}),
                    )
                )
        return [
            RegisteredModelRecord(
                name=m.name,
                creation_timestamp=int(m.creation_timestamp),
                last_updated_timestamp=int(m.last_updated_timestamp),
                description=m.description,
                user_id=m.user_id,
                tags=rm_tags.get(int(m.id), {}),
                aliases=aliases.get(int(m.id), {}),
                versions=tuple(versions.get(int(m.id), [])),
                last_version=int(m.last_version),
            )
            for m in models
        ]

    def list_artifacts(self, location: str) -> list[ArtifactFile]:
        return self._reader.list(location)

    def location_exists(self, location: str) -> bool:
        return self._reader.exists(location)

    def open_artifact(self, location: str, path: str) -> Iterator[bytes]:
        return self._reader.open(location, path)

    def readable_location(self, location: str) -> str:
        return self._reader.resolve(location)

    def close(self) -> None:
        self.engine.dispose()


def _pairs(conn: Connection, table: sa.Table, exp_id: int) -> dict[str, dict[str, str]]:
    query = (
        sa.select(table.c.run_id, table.c["key"], table.c.value)
        .join(runs, runs.c.run_id == table.c.run_id)
        .where(runs.c.experiment_id == exp_id)
    )
    out: dict[str, dict[str, str]] = {}
    for run_id, key, value in conn.execute(query):
        out.setdefault(run_id, {})[key] = value
    return out


def _owned(conn: Connection, table: sa.Table, owner: str) -> dict[int, dict[str, str]]:
    out: dict[int, dict[str, str]] = {}
    for row in conn.execute(sa.select(table.c[owner], table.c["key"], table.c.value)):
        out.setdefault(int(row[0]), {})[row[1]] = row[2]
    return out


__all__: list[Any] = ["MltrailSqlSource"]
