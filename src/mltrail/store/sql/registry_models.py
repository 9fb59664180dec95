"""Registered models: create, read, rename, describe, delete and search."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement

from mltrail.errors import ResourceAlreadyExists
from mltrail.model_entities import RegisteredModel
from mltrail.store.schema_models import (
    model_version_tags,
    model_versions,
    registered_model_aliases,
    registered_model_tags,
    registered_models,
)
from mltrail.store.search.sql_ops import BinarySortKey
from mltrail.store.sql.engine import read_connection, run_write
from mltrail.store.sql.models_search import (
    REGISTERED_MODELS,
    FilterClause,
    FilterEntity,
    parse_filter,
    parse_order_by,
    string_condition,
)
from mltrail.store.sql.registry_rows import (
    load_models,
    model_id_of,
    model_missing,
    readable,
    rm,
    set_kv,
    tag_condition,
)

_MODEL_ORDER = {
    "name": "name",
    "creation_timestamp": "creation_timestamp",
    "last_updated_timestamp": "last_updated_timestamp",
    "timestamp": "last_updated_timestamp",
}


class RegisteredModelsSql:
    """The registered-model methods of :class:`~mltrail.store.sql.registry.SqlRegistryStore`."""

    engine: Engine

    def create_registered_model(
        self,
        name: str,
        *,
        now: int,
        tags: Mapping[str, str] | None = None,
        description: str | None = None,
        user_id: str | None = None,
    ) -> RegisteredModel:
        def work(conn: Connection) -> None:
            if conn.execute(sa.select(rm.id).where(rm.name == name)).first() is not None:
                raise ResourceAlreadyExists(f"Registered Model (name={name}) already exists.")
            result = conn.execute(
                registered_models.insert().values(
                    name=name,
                    creation_timestamp=now,
                    last_updated_timestamp=now,
                    description=description,
                    user_id=user_id,
                    last_version=0,
                )
            )
            inserted = result.inserted_primary_key
            assert inserted is not None
            model_id = inserted[0]
            for key, value in (tags or {}).items():
                set_kv(conn, registered_model_tags, {"registered_model_id": model_id}, key, value)

        try:
            run_write(self.engine, work)
        except IntegrityError as exc:  # a concurrent create of the same name won
            raise ResourceAlreadyExists(f"Registered Model (name={name}) already exists.") from exc
        return self.get_registered_model(name)

    def get_registered_model(self, name: str) -> RegisteredModel:
        with read_connection(self.engine) as conn:
            row = conn.execute(sa.select(registered_models).where(rm.name == name)).first()
            if row is None:
                raise model_missing(name)
            return load_models(conn, [row])[0]

    def rename_registered_model(self, name: str, *, new_name: str, now: int) -> RegisteredModel:
        def work(conn: Connection) -> None:
            model_id = model_id_of(conn, name)
            if (
                new_name != name
                and conn.execute(sa.select(rm.id).where(rm.name == new_name)).first()
            ):
                raise ResourceAlreadyExists(f"Registered Model (name={new_name}) already exists.")
            conn.execute(
                registered_models.update()
                .where(rm.id == model_id)
                .values(name=new_name, last_updated_timestamp=now)
            )

        try:
            run_write(self.engine, work)
        except IntegrityError as exc:
            raise ResourceAlreadyExists(
                f"Registered Model (name={new_name}) already exists."
            ) from exc
        return self.get_registered_model(new_name)

    def update_registered_model(
        self, name: str, *, description: str | None, now: int
    ) -> RegisteredModel:
        def work(conn: Connection) -> None:
            model_id = model_id_of(conn, name)
            conn.execute(
                registered_models.update()
                .where(rm.id == model_id)
                .values(description=description, last_updated_timestamp=now)
            )

        run_write(self.engine, work)
        return self.get_registered_model(name)

    def delete_registered_model(self, name: str) -> None:
        """Hard delete, with every version, tag and alias (foreign keys cascade)."""

        def work(conn: Connection) -> None:
            model_id = model_id_of(conn, name)
            # Explicit deletes, child first: MySQL does not cascade through composite keys
            # in every configuration and SQLite needs its foreign-key pragma.
            for table in (registered_model_aliases, model_version_tags, model_versions):
                conn.execute(table.delete().where(table.c.registered_model_id == model_id))
            conn.execute(
                registered_model_tags.delete().where(
                    registered_model_tags.c.registered_model_id == model_id
                )
            )
            conn.execute(registered_models.delete().where(rm.id == model_id))

        run_write(self.engine, work)

    def search_registered_models(
        self,
        *,
        filter_string: str | None = None,
        order_by: Sequence[str] = (),
        max_results: int = 100,
        offset: int = 0,
        readable_by: tuple[int, int] | None = None,
    ) -> tuple[list[RegisteredModel], bool]:
        """One page of models; the flag says whether more follow.

        ``readable_by`` (user id, default level) keeps only the models that user may read.
        """
        query = sa.select(registered_models)
        if readable_by is not None:
            query = query.where(readable(readable_by))
        orders = parse_order_by(order_by, allowed=_MODEL_ORDER)
        for clause in parse_filter(filter_string, REGISTERED_MODELS):
            query = query.where(_model_condition(clause))
        ordering: list[ColumnElement[Any]] = []
        for order in orders:
            column: ColumnElement[Any] = rm[order.key]
            if order.key == "name":
                column = BinarySortKey(column)
            ordering.append(column.asc() if order.ascending else column.desc())
        if not any(o.key == "name" for o in orders):
            ordering.append(BinarySortKey(rm.name).asc())
        query = query.order_by(*ordering).limit(max_results + 1).offset(offset)
        with read_connection(self.engine) as conn:
            rows = list(conn.execute(query))
            return load_models(conn, rows[:max_results]), len(rows) > max_results


def _model_condition(clause: FilterClause) -> ColumnElement[bool]:
    if clause.entity is FilterEntity.TAG:
        t = registered_model_tags
        return tag_condition(t, [t.c.registered_model_id == rm.id], clause)
    return string_condition(rm.name, clause.comparator, clause.value)
