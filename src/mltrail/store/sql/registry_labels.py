"""Aliases of model versions, and tags of registered models and versions."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from mltrail.errors import ResourceDoesNotExist
from mltrail.model_entities import ModelVersion
from mltrail.store.schema_models import (
    model_version_tags,
    model_versions,
    registered_model_aliases,
    registered_model_tags,
    registered_models,
)
from mltrail.store.sql.engine import read_connection, run_write
from mltrail.store.sql.registry_rows import (
    get_version,
    model_id_of,
    mv,
    require_version,
    rm,
    set_kv,
)


class AliasesAndTagsSql:
    """The alias and tag methods of :class:`~mltrail.store.sql.registry.SqlRegistryStore`."""

    engine: Engine

    def set_registered_model_tag(self, name: str, *, key: str, value: str, now: int) -> None:
        def work(conn: Connection) -> None:
            model_id = model_id_of(conn, name)
            set_kv(conn, registered_model_tags, {"registered_model_id": model_id}, key, value)
            conn.execute(
                registered_models.update()
                .where(rm.id == model_id)
                .values(last_updated_timestamp=now)
            )

        run_write(self.engine, work)

    def delete_registered_model_tag(self, name: str, *, key: str) -> None:
        def work(conn: Connection) -> None:
            model_id = model_id_of(conn, name)
            t = registered_model_tags.c
            conn.execute(
                registered_model_tags.delete().where(
                    t.registered_model_id == model_id, t.key == key
                )
            )

        run_write(self.engine, work)

    def set_alias(self, name: str, *, alias: str, version: int, now: int) -> None:
        def work(conn: Connection) -> None:
            model_id = require_version(conn, name, version)
            a = registered_model_aliases.c
            conn.execute(
                registered_model_aliases.delete().where(
                    a.registered_model_id == model_id, a.alias == alias
                )
            )
            conn.execute(
                registered_model_aliases.insert().values(
                    registered_model_id=model_id, alias=alias, version=version
                )
            )
            conn.execute(
                registered_models.update()
                .where(rm.id == model_id)
                .values(last_updated_timestamp=now)
            )

        run_write(self.engine, work)

    def delete_alias(self, name: str, *, alias: str) -> None:
        def work(conn: Connection) -> None:
            model_id = model_id_of(conn, name)
            a = registered_model_aliases.c
            conn.execute(
                registered_model_aliases.delete().where(
                    a.registered_model_id == model_id, a.alias == alias
                )
            )

        run_write(self.engine, work)

    def get_version_by_alias(self, name: str, *, alias: str) -> ModelVersion:
        a = registered_model_aliases.c
        with read_connection(self.engine) as conn:
            model_id = model_id_of(conn, name)
            version = conn.execute(
                sa.select(a.version).where(a.registered_model_id == model_id, a.alias == alias)
            ).scalar()
            if version is None:
                raise ResourceDoesNotExist(
                    f"Registered model alias {alias} not found for model {name}."
                )
            return get_version(conn, name, int(version))

    def set_model_version_tag(
        self, name: str, *, version: int, key: str, value: str, now: int
    ) -> None:
        def work(conn: Connection) -> None:
            rm_id = require_version(conn, name, version)
            ident = {"registered_model_id": rm_id, "version": version}
            set_kv(conn, model_version_tags, ident, key, value)
            conn.execute(
                model_versions.update()
                .where(mv.registered_model_id == rm_id, mv.version == version)
                .values(last_updated_timestamp=now)
            )

        run_write(self.engine, work)

    def delete_model_version_tag(self, name: str, *, version: int, key: str) -> None:
        def work(conn: Connection) -> None:
            rm_id = require_version(conn, name, version)
            t = model_version_tags.c
            conn.execute(
                model_version_tags.delete().where(
                    t.registered_model_id == rm_id, t.version == version, t.key == key
                )
            )

        run_write(self.engine, work)
