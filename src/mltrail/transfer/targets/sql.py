"""An mltrail database (a folder, SQLite, PostgreSQL, MySQL) written in bulk.

A batch of runs is one transaction (``mltrail.store.sql.bulk``): after a crash the
database holds whole batches only, and the import's state file never claims more than
what committed. New artifact locations follow the store's conventions: the store's own
artifact folder, or with ``--artifacts-destination`` the proxied ``mlflow-artifacts:/``
layout that ``mltrail server --artifacts-destination`` serves.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from mltrail.artifacts import open_artifact_store
from mltrail.artifacts.base import ArtifactStore
from mltrail.config import Settings
from mltrail.errors import ConfigurationError
from mltrail.model_entities import LoggedModel
from mltrail.store.schema import experiments, metric_summaries, params, runs, tags
from mltrail.store.schema_models import (
    logged_models,
    model_versions,
    registered_model_aliases,
    registered_models,
)
from mltrail.store.sql import bulk
from mltrail.store.sql.engine import create_engine_for, read_connection, run_write
from mltrail.store.sql.metrics import Series
from mltrail.store.sql.migrate import ensure_schema
from mltrail.store.sql.store import SqlTrackingStore
from mltrail.transfer.records import ExperimentRecord, RegisteredModelRecord
from mltrail.transfer.targets.base import InventoryScope, PendingRun, TargetExperiment, walk
from mltrail.transfer.verify import Inventory

PROXY_ROOT = "mlflow-artifacts:/"
IN_LIMIT = 500


def _parts(items: Sequence[str]) -> Iterable[list[str]]:
    for start in range(0, len(items), IN_LIMIT):
        yield list(items[start : start + IN_LIMIT])


class SqlTarget:
    def __init__(
        self,
        *,
        db_uri: str,
        store_root: str,
        label: str,
        settings: Settings,
        artifacts_destination: str | None = None,
        db_file: Path | None = None,
    ) -> None:
        self.label = label
        self.db_file = db_file
        self._settings = settings
        self._destination = artifacts_destination
        self._root = PROXY_ROOT if artifacts_destination else store_root
        self.engine: Engine = create_engine_for(db_uri)
        try:
            ensure_schema(self.engine)
            SqlTrackingStore(
                self.engine, default_artifact_root=self._root
            ).ensure_default_experiment()
        except BaseException:
            self.engine.dispose()
            raise

    # -- experiments -------------------------------------------------------------

    def experiments(self) -> list[TargetExperiment]:
        with read_connection(self.engine) as conn:
            rows = conn.execute(sa.select(experiments)).all()
        return [_experiment(r) for r in rows]

    def create_experiment(
        self, record: ExperimentRecord, *, name: str, artifact_location: str | None
    ) -> TargetExperiment:
        row = bulk.ExperimentRow(
            name=name,
            artifact_location=artifact_location,
            lifecycle_stage=record.lifecycle_stage,
            creation_time=record.creation_time,
            last_update_time=record.last_update_time,
            deleted_time=record.deleted_time,
            tags=record.tags,
        )

        def work(conn: Connection) -> TargetExperiment:
            exp_id = bulk.insert_experiment(conn, row, default_root=self._root)
            found = conn.execute(
                sa.select(experiments).where(experiments.c.experiment_id == exp_id)
            ).one()
            return _experiment(found)

        return run_write(self.engine, work)

    def update_experiment(self, experiment: TargetExperiment, record: ExperimentRecord) -> None:
        row = bulk.ExperimentRow(
            name=experiment.name,
            artifact_location=experiment.artifact_location,
            lifecycle_stage=record.lifecycle_stage,
            creation_time=record.creation_time,
            last_update_time=record.last_update_time,
            deleted_time=record.deleted_time,
            tags=record.tags,
        )
        run_write(
            self.engine,
            lambda conn: bulk.update_experiment(conn, int(experiment.experiment_id), row),
        )

    def finish_experiment(self, experiment: TargetExperiment, record: ExperimentRecord) -> None:
        """Nothing to do: rows are written with their lifecycle stage from the start."""

    # -- runs --------------------------------------------------------------------

    def run_experiments(self, run_ids: Sequence[str]) -> dict[str, str]:
        with read_connection(self.engine) as conn:
            found = bulk.existing_runs(conn, run_ids)
        return {run_id: str(exp) for run_id, exp in found.items()}

    def run_location(self, experiment: TargetExperiment, run_id: str) -> str:
        return f"{experiment.artifact_location.rstrip('/')}/{run_id}/artifacts"

    def model_location(self, experiment: TargetExperiment, model_id: str) -> str:
        return f"{experiment.artifact_location.rstrip('/')}/models/{model_id}/artifacts"

    def stored_series(self, run_id: str, keys: Iterable[str]) -> dict[str, Series]:
        with read_connection(self.engine) as conn:
            return bulk.read_series(conn, run_id, keys)

    def write_runs(self, batch: Sequence[PendingRun]) -> None:
        writes = [
            bulk.RunWrite(
                row=bulk.RunRow(
                    run_id=p.record.run_id,
                    experiment_id=int(p.experiment_id),
                    run_name=p.record.run_name,
                    user_id=p.record.user_id,
                    status=p.record.status,
                    start_time=p.record.start_time,
                    end_time=p.record.end_time,
                    lifecycle_stage=p.record.lifecycle_stage,
                    artifact_uri=p.artifact_uri,
                    deleted_time=p.record.deleted_time,
                ),
                params=p.record.params,
                tags=p.record.all_tags(),
                series=p.series,
                is_new=p.is_new,
            )
            for p in batch
        ]
        run_write(self.engine, lambda conn: bulk.write_runs(conn, writes))

    # -- models ------------------------------------------------------------------

    def existing_models(self, model_ids: Sequence[str]) -> set[str]:
        with read_connection(self.engine) as conn:
            return bulk.existing_logged_models(conn, model_ids)

    def write_logged_model(self, model: LoggedModel, *, is_new: bool) -> None:
        run_write(self.engine, lambda conn: bulk.write_logged_model(conn, model, is_new=is_new))

    def registered_names(self) -> set[str]:
        with read_connection(self.engine) as conn:
            return set(conn.execute(sa.select(registered_models.c.name)).scalars())

    def write_registered_model(self, model: RegisteredModelRecord) -> None:
        row = bulk.RegisteredModelRow(
            name=model.name,
            creation_timestamp=model.creation_timestamp,
            last_updated_timestamp=model.last_updated_timestamp,
            description=model.description,
            user_id=model.user_id,
            tags=model.tags,
            aliases=model.aliases,
            versions=model.versions,
            last_version=model.last_version,
        )
        run_write(self.engine, lambda conn: bulk.write_registered_model(conn, row))

    # -- artifacts -----------------------------------------------------------------

    def artifacts(self, location: str) -> ArtifactStore:
        if urlparse(location).scheme == "mlflow-artifacts":
            if not self._destination:
                raise ConfigurationError(
                    f"{location} is kept by a server's artifact proxy: pass "
                    "--artifacts-destination with that server's --artifacts-destination"
                )
            rel = urlparse(location).path.lstrip("/")
            return open_artifact_store(
                f"{self._destination.rstrip('/')}/{rel}", settings=self._settings
            )
        return open_artifact_store(location, settings=self._settings)

    # -- verification --------------------------------------------------------------

    def inventory(self, scope: InventoryScope) -> Inventory:
        inv = Inventory()
        with read_connection(self.engine) as conn:
            names = self._experiment_names(conn, inv, scope)
            self._runs(conn, inv, scope, names)
            self._models(conn, inv, scope)
        for owner, location in scope.artifact_locations.items():
            inv.artifacts[owner] = walk(self.artifacts(location))
        return inv

    def _experiment_names(
        self, conn: Connection, inv: Inventory, scope: InventoryScope
    ) -> dict[int, str]:
        names: dict[int, str] = {}
        ids = [int(i) for i in scope.experiment_ids]
        for part in _parts([str(i) for i in ids]):
            query = sa.select(
                experiments.c.experiment_id, experiments.c.name, experiments.c.lifecycle_stage
            ).where(experiments.c.experiment_id.in_([int(i) for i in part]))
            for exp_id, name, stage in conn.execute(query):
                names[int(exp_id)] = name
                inv.experiments[name] = stage
        return names

    def _runs(
        self, conn: Connection, inv: Inventory, scope: InventoryScope, names: dict[int, str]
    ) -> None:
        r = runs.c
        for part in _parts(list(scope.run_ids)):
            for row in conn.execute(
                sa.select(r.run_id, r.experiment_id, r.status, r.lifecycle_stage).where(
                    r.run_id.in_(part)
                )
            ):
                exp_name = names.get(int(row.experiment_id), str(row.experiment_id))
                inv.runs[row.run_id] = (exp_name, row.status, row.lifecycle_stage)
            for table, out in ((params, inv.params), (tags, inv.tags)):
                query = sa.select(table.c.run_id, table.c["key"], table.c.value).where(
                    table.c.run_id.in_(part)
                )
                for run_id, key, value in conn.execute(query):
                    out.setdefault(run_id, {})[key] = value
            ms = metric_summaries.c
            query = sa.select(ms.run_id, ms["key"], ms["count"]).where(ms.run_id.in_(part))
            for run_id, key, count in conn.execute(query):
                inv.metrics.setdefault(run_id, {})[key] = int(count)

    def _models(self, conn: Connection, inv: Inventory, scope: InventoryScope) -> None:
        lm = logged_models.c
        for part in _parts(list(scope.model_ids)):
            for model_id, name, status, stage in conn.execute(
                sa.select(lm.model_id, lm.name, lm.status, lm.lifecycle_stage).where(
                    lm.model_id.in_(part)
                )
            ):
                inv.logged_models[model_id] = (name, status, stage)
        rm, mv, al = registered_models.c, model_versions.c, registered_model_aliases.c
        for part in _parts(list(scope.registered_names)):
            ids: dict[int, str] = {}
            for rm_id, name, description in conn.execute(
                sa.select(rm.id, rm.name, rm.description).where(rm.name.in_(part))
            ):
                ids[int(rm_id)] = name
                inv.registered_models[name] = description or ""
            if not ids:
                continue
            for rm_id, version, stage, run_id in conn.execute(
                sa.select(mv.registered_model_id, mv.version, mv.current_stage, mv.run_id).where(
                    mv.registered_model_id.in_(list(ids))
                )
            ):
                inv.versions[(ids[int(rm_id)], int(version))] = (stage, run_id or "")
            for rm_id, alias, version in conn.execute(
                sa.select(al.registered_model_id, al.alias, al.version).where(
                    al.registered_model_id.in_(list(ids))
                )
            ):
                inv.aliases[(ids[int(rm_id)], alias)] = int(version)

    def close(self) -> None:
        self.engine.dispose()


def _experiment(row: Any) -> TargetExperiment:
    return TargetExperiment(
        experiment_id=str(row.experiment_id),
        name=row.name,
        artifact_location=row.artifact_location,
        lifecycle_stage=row.lifecycle_stage,
    )
