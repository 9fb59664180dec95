"""Model versions: create, read, describe, move between stages, delete and search."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Engine
from sqlalchemy.sql.elements import ColumnElement

from mltrail.model_entities import ModelVersion, ModelVersionStage
from mltrail.store.schema_models import (
    model_version_tags,
    model_versions,
    registered_model_aliases,
    registered_models,
)
from mltrail.store.search.sql_ops import BinarySortKey
from mltrail.store.sql.engine import read_connection, run_write
from mltrail.store.sql.models_search import (
    MODEL_VERSIONS,
    FilterClause,
    FilterEntity,
    numeric_condition,
    parse_filter,
    parse_order_by,
    string_condition,
)
from mltrail.store.sql.registry_rows import (
    get_version,
    latest_per_stage,
    load_versions,
    model_id_of,
    mv,
    readable,
    require_version,
    rm,
    set_kv,
    tag_condition,
    versions_query,
)

_VERSION_ORDER = {
    "name": "name",
    "version_number": "version_number",
    "creation_timestamp": "creation_timestamp",
    "last_updated_timestamp": "last_updated_timestamp",
    "timestamp": "last_updated_timestamp",
}


class ModelVersionsSql:
    """The model-version methods of :class:`~mltrail.store.sql.registry.SqlRegistryStore`."""

    engine: Engine

    def create_model_version(
        self,
        name: str,
        *,
        source: str,
        storage_location: str,
        now: int,
        run_id: str | None = None,
        run_link: str | None = None,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
        model_id: str | None = None,
        user_id: str | None = None,
        status: str = "READY",
    ) -> ModelVersion:
        def work(conn: Connection) -> int:
            rm_id = model_id_of(conn, name)
            # The UPDATE takes the row lock first, so concurrent creates get distinct numbers.
            conn.execute(
                registered_models.update()
                .where(rm.id == rm_id)
                .values(last_version=rm.last_version + 1, last_updated_timestamp=now)
            )
            version = int(
                conn.execute(sa.select(rm.last_version).where(rm.id == rm_id)).scalar_one()
            )
            conn.execute(
                model_versions.insert().values(
                    registered_model_id=rm_id,
                    version=version,
                    creation_timestamp=now,
                    last_updated_timestamp=now,
                    description=description,
                    user_id=user_id,
                    current_stage=ModelVersionStage.NONE.value,
                    source=source,
                    storage_location=storage_location,
                    run_id=run_id,
                    run_link=run_link,
                    model_id=model_id,
                    status=status,
                )
            )
            ident = {"registered_model_id": rm_id, "version": version}
            for key, value in (tags or {}).items():
                set_kv(conn, model_version_tags, ident, key, value)
            return version

        version = run_write(self.engine, work)
        return self.get_model_version(name, version=version)

    def get_model_version(self, name: str, *, version: int) -> ModelVersion:
        with read_connection(self.engine) as conn:
            return get_version(conn, name, version)

    def update_model_version(
        self, name: str, *, version: int, description: str | None, now: int
    ) -> ModelVersion:
        def work(conn: Connection) -> None:
            rm_id = require_version(conn, name, version)
            conn.execute(
                model_versions.update()
                .where(mv.registered_model_id == rm_id, mv.version == version)
                .values(description=description, last_updated_timestamp=now)
            )

        run_write(self.engine, work)
        return self.get_model_version(name, version=version)

    def transition_stage(
        self, name: str, *, version: int, stage: ModelVersionStage, archive_existing: bool, now: int
    ) -> ModelVersion:
        def work(conn: Connection) -> None:
            rm_id = require_version(conn, name, version)
            if archive_existing and stage in (
                ModelVersionStage.STAGING,
                ModelVersionStage.PRODUCTION,
            ):
                conn.execute(
                    model_versions.update()
                    .where(
                        mv.registered_model_id == rm_id,
                        mv.version != version,
                        mv.current_stage == stage.value,
                    )
                    .values(
                        current_stage=ModelVersionStage.ARCHIVED.value,
                        last_updated_timestamp=now,
                    )
                )
            conn.execute(
                model_versions.update()
                .where(mv.registered_model_id == rm_id, mv.version == version)
                .values(current_stage=stage.value, last_updated_timestamp=now)
            )
            conn.execute(
                registered_models.update().where(rm.id == rm_id).values(last_updated_timestamp=now)
            )

        run_write(self.engine, work)
        return self.get_model_version(name, version=version)

    def delete_model_version(self, name: str, *, version: int, now: int) -> None:
        def work(conn: Connection) -> None:
            rm_id = require_version(conn, name, version)
            for table in (registered_model_aliases, model_version_tags, model_versions):
                conn.execute(
                    table.delete().where(
                        table.c.registered_model_id == rm_id, table.c.version == version
                    )
                )
            conn.execute(
                registered_models.update().where(rm.id == rm_id).values(last_updated_timestamp=now)
            )

        run_write(self.engine, work)

    def get_latest_versions(
        self, name: str, *, stages: Sequence[ModelVersionStage] = ()
    ) -> list[ModelVersion]:
        with read_connection(self.engine) as conn:
            rm_id = model_id_of(conn, name)
            latest = latest_per_stage(conn, [rm_id]).get(rm_id, [])
        wanted = {s.value for s in stages}
        return [v for v in latest if not wanted or v.current_stage in wanted]

    def search_model_versions(
        self,
        *,
        filter_string: str | None = None,
        order_by: Sequence[str] = (),
        max_results: int = 10000,
        offset: int = 0,
        readable_by: tuple[int, int] | None = None,
    ) -> tuple[list[ModelVersion], bool]:
        """One page of versions; the flag says whether more follow."""
        query = versions_query()
        if readable_by is not None:
            query = query.where(readable(readable_by))
        orders = parse_order_by(order_by, allowed=_VERSION_ORDER)
        for clause in parse_filter(filter_string, MODEL_VERSIONS):
            query = query.where(_version_condition(clause))
        columns: dict[str, ColumnElement[Any]] = {
            "name": BinarySortKey(rm.name),
            "version_number": mv.version,
            "creation_timestamp": mv.creation_timestamp,
            "last_updated_timestamp": mv.last_updated_timestamp,
        }
        ordering = [columns[o.key].asc() if o.ascending else columns[o.key].desc() for o in orders]
        ordering += [
            mv.last_updated_timestamp.desc(),
            BinarySortKey(rm.name).asc(),
            mv.version.desc(),
        ]
        query = query.order_by(*ordering).limit(max_results + 1).offset(offset)
        with read_connection(self.engine) as conn:
            rows = list(conn.execute(query))
            return load_versions(conn, rows[:max_results]), len(rows) > max_results


def _version_condition(clause: FilterClause) -> ColumnElement[bool]:
    if clause.entity is FilterEntity.TAG:
        t = model_version_tags
        ident = [t.c.registered_model_id == mv.registered_model_id, t.c.version == mv.version]
        return tag_condition(t, ident, clause)
    if clause.key == "version_number":
        return numeric_condition(mv.version, clause.comparator, clause.value)
    column = {"name": rm.name, "run_id": mv.run_id, "source_path": mv.source}[clause.key]
    return string_condition(column, clause.comparator, clause.value)
