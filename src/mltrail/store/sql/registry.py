"""``SqlRegistryStore``: registered models, their versions, tags, aliases and stages."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement

from mltrail.errors import ResourceAlreadyExists, ResourceDoesNotExist
from mltrail.model_entities import ModelVersion, ModelVersionStage, RegisteredModel
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
    MODEL_VERSIONS,
    REGISTERED_MODELS,
    FilterClause,
    FilterEntity,
    numeric_condition,
    parse_filter,
    parse_order_by,
    string_condition,
)

PROMPT_TAG = "mlflow.prompt.is_prompt"

rm, mv = registered_models.c, model_versions.c

_MODEL_ORDER = {
    "name": "name",
    "creation_timestamp": "creation_timestamp",
    "last_updated_timestamp": "last_updated_timestamp",
    "timestamp": "last_updated_timestamp",
}
_VERSION_ORDER = {
    "name": "name",
    "version_number": "version_number",
    "creation_timestamp": "creation_timestamp",
    "last_updated_timestamp": "last_updated_timestamp",
    "timestamp": "last_updated_timestamp",
}


def _model_missing(name: str) -> ResourceDoesNotExist:
    return ResourceDoesNotExist(f"Registered Model with name={name} not found")


def _version_missing(name: str, version: int) -> ResourceDoesNotExist:
    return ResourceDoesNotExist(f"Model Version (name={name}, version={version}) not found")


def _model_id(conn: Connection, name: str) -> int:
    found = conn.execute(sa.select(rm.id).where(rm.name == name)).scalar()
    if found is None:
        raise _model_missing(name)
    return int(found)


def _require_version(conn: Connection, name: str, version: int) -> int:
    model_id = _model_id(conn, name)
    found = conn.execute(
        sa.select(mv.version).where(mv.registered_model_id == model_id, mv.version == version)
    ).first()
    if found is None:
        raise _version_missing(name, version)
    return model_id


def _set_kv(
    conn: Connection, table: sa.Table, ident: Mapping[str, Any], key: str, value: str
) -> None:
    where = [table.c[k] == v for k, v in ident.items()]
    conn.execute(table.delete().where(*where, table.c.key == key))
    conn.execute(table.insert().values(**ident, key=key, value=value))


class SqlRegistryStore:
    """The model registry on one SQL database. Thread-safe (one pooled engine)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- registered models ---------------------------------------------------
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
                _set_kv(conn, registered_model_tags, {"registered_model_id": model_id}, key, value)

        try:
            run_write(self.engine, work)
        except IntegrityError as exc:  # a concurrent create of the same name won
            raise ResourceAlreadyExists(f"Registered Model (name={name}) already exists.") from exc
        return self.get_registered_model(name)

    def get_registered_model(self, name: str) -> RegisteredModel:
        with read_connection(self.engine) as conn:
            row = conn.execute(sa.select(registered_models).where(rm.name == name)).first()
            if row is None:
                raise _model_missing(name)
            return _load_models(conn, [row])[0]

    def rename_registered_model(self, name: str, *, new_name: str, now: int) -> RegisteredModel:
        def work(conn: Connection) -> None:
            model_id = _model_id(conn, name)
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
            model_id = _model_id(conn, name)
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
            model_id = _model_id(conn, name)
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

    def set_registered_model_tag(self, name: str, *, key: str, value: str, now: int) -> None:
        def work(conn: Connection) -> None:
            model_id = _model_id(conn, name)
            _set_kv(conn, registered_model_tags, {"registered_model_id": model_id}, key, value)
            conn.execute(
                registered_models.update()
                .where(rm.id == model_id)
                .values(last_updated_timestamp=now)
            )

        run_write(self.engine, work)

    def delete_registered_model_tag(self, name: str, *, key: str) -> None:
        def work(conn: Connection) -> None:
            model_id = _model_id(conn, name)
            t = registered_model_tags.c
            conn.execute(
                registered_model_tags.delete().where(
                    t.registered_model_id == model_id, t.key == key
                )
            )

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
            query = query.where(_readable(readable_by))
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
            return _load_models(conn, rows[:max_results]), len(rows) > max_results

    # -- aliases -------------------------------------------------------------
    def set_alias(self, name: str, *, alias: str, version: int, now: int) -> None:
        def work(conn: Connection) -> None:
            model_id = _require_version(conn, name, version)
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
            model_id = _model_id(conn, name)
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
            model_id = _model_id(conn, name)
            version = conn.execute(
                sa.select(a.version).where(a.registered_model_id == model_id, a.alias == alias)
            ).scalar()
            if version is None:
                raise ResourceDoesNotExist(
                    f"Registered model alias {alias} not found for model {name}."
                )
            return self._get_version(conn, name, int(version))

    # -- versions ------------------------------------------------------------
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
            rm_id = _model_id(conn, name)
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
                _set_kv(conn, model_version_tags, ident, key, value)
            return version

        version = run_write(self.engine, work)
        return self.get_model_version(name, version=version)

    def get_model_version(self, name: str, *, version: int) -> ModelVersion:
        with read_connection(self.engine) as conn:
            return self._get_version(conn, name, version)

    def _get_version(self, conn: Connection, name: str, version: int) -> ModelVersion:
        row = conn.execute(_versions_query().where(rm.name == name, mv.version == version)).first()
        if row is None:
            raise _version_missing(name, version)
        return _load_versions(conn, [row])[0]

    def update_model_version(
        self, name: str, *, version: int, description: str | None, now: int
    ) -> ModelVersion:
        def work(conn: Connection) -> None:
            rm_id = _require_version(conn, name, version)
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
            rm_id = _require_version(conn, name, version)
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
            rm_id = _require_version(conn, name, version)
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

    def set_model_version_tag(
        self, name: str, *, version: int, key: str, value: str, now: int
    ) -> None:
        def work(conn: Connection) -> None:
            rm_id = _require_version(conn, name, version)
            ident = {"registered_model_id": rm_id, "version": version}
            _set_kv(conn, model_version_tags, ident, key, value)
            conn.execute(
                model_versions.update()
                .where(mv.registered_model_id == rm_id, mv.version == version)
                .values(last_updated_timestamp=now)
            )

        run_write(self.engine, work)

    def delete_model_version_tag(self, name: str, *, version: int, key: str) -> None:
        def work(conn: Connection) -> None:
            rm_id = _require_version(conn, name, version)
            t = model_version_tags.c
            conn.execute(
                model_version_tags.delete().where(
                    t.registered_model_id == rm_id, t.version == version, t.key == key
                )
            )

        run_write(self.engine, work)

    def get_latest_versions(
        self, name: str, *, stages: Sequence[ModelVersionStage] = ()
    ) -> list[ModelVersion]:
        with read_connection(self.engine) as conn:
            rm_id = _model_id(conn, name)
            latest = _latest_per_stage(conn, [rm_id]).get(rm_id, [])
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
        query = _versions_query()
        if readable_by is not None:
            query = query.where(_readable(readable_by))
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
            return _load_versions(conn, rows[:max_results]), len(rows) > max_results


def _versions_query() -> sa.Select[Any]:
    return sa.select(model_versions, rm.name.label("model_name")).join(
        registered_models, rm.id == mv.registered_model_id
    )


def _tag_condition(
    table: sa.Table, ident: Iterable[ColumnElement[bool]], clause: FilterClause
) -> ColumnElement[bool]:
    ident = list(ident)
    if clause.key == PROMPT_TAG and clause.comparator == "!=":
        # The mlflow client adds this clause to every registered-model search; a model
        # without the tag must satisfy it, so this one is an anti-join.
        return ~sa.exists().where(
            *ident,
            table.c.key == clause.key,
            string_condition(table.c.value, "=", clause.value),
        )
    return sa.exists().where(
        *ident,
        table.c.key == clause.key,
        string_condition(table.c.value, clause.comparator, clause.value),
    )


def _model_condition(clause: FilterClause) -> ColumnElement[bool]:
    if clause.entity is FilterEntity.TAG:
        t = registered_model_tags
        return _tag_condition(t, [t.c.registered_model_id == rm.id], clause)
    return string_condition(rm.name, clause.comparator, clause.value)


def _version_condition(clause: FilterClause) -> ColumnElement[bool]:
    if clause.entity is FilterEntity.TAG:
        t = model_version_tags
        ident = [t.c.registered_model_id == mv.registered_model_id, t.c.version == mv.version]
        return _tag_condition(t, ident, clause)
    if clause.key == "version_number":
        return numeric_condition(mv.version, clause.comparator, clause.value)
    column = {"name": rm.name, "run_id": mv.run_id, "source_path": mv.source}[clause.key]
    return string_condition(column, clause.comparator, clause.value)


def _version_rows_to_entities(
    conn: Connection, rows: Sequence[Any], names: Mapping[int, str]
) -> list[ModelVersion]:
    keys = {(r.registered_model_id, r.version) for r in rows}
    rm_ids = sorted({k[0] for k in keys})
    tags: dict[tuple[int, int], dict[str, str]] = {k: {} for k in keys}
    aliases: dict[tuple[int, int], list[str]] = {k: [] for k in keys}
    if rm_ids:
        t = model_version_tags.c
        for r in conn.execute(
            sa.select(model_version_tags).where(t.registered_model_id.in_(rm_ids))
        ):
            if (r.registered_model_id, r.version) in tags:
                tags[(r.registered_model_id, r.version)][r.key] = r.value
        a = registered_model_aliases.c
        query = (
            sa.select(registered_model_aliases)
            .where(a.registered_model_id.in_(rm_ids))
            .order_by(a.alias)
        )
        for r in conn.execute(query):
            if (r.registered_model_id, r.version) in aliases:
                aliases[(r.registered_model_id, r.version)].append(r.alias)
    out = []
    for r in rows:
        key = (r.registered_model_id, r.version)
        out.append(
            ModelVersion(
                name=names[r.registered_model_id],
                version=r.version,
                creation_timestamp=r.creation_timestamp,
                last_updated_timestamp=r.last_updated_timestamp,
                current_stage=r.current_stage,
                description=r.description,
                source=r.source,
                storage_location=r.storage_location,
                run_id=r.run_id,
                run_link=r.run_link,
                model_id=r.model_id,
                user_id=r.user_id,
                status=r.status,
                status_message=r.status_message,
                tags=tags[key],
                aliases=tuple(aliases[key]),
            )
        )
    return out


def _load_versions(conn: Connection, rows: Sequence[Any]) -> list[ModelVersion]:
    names = {r.registered_model_id: r.model_name for r in rows}
    return _version_rows_to_entities(conn, rows, names)


def _latest_per_stage(conn: Connection, rm_ids: Sequence[int]) -> dict[int, list[ModelVersion]]:
    if not rm_ids:
        return {}
    rows = list(
        conn.execute(
            _versions_query()
            .where(mv.registered_model_id.in_(list(rm_ids)))
            .order_by(mv.registered_model_id, mv.version.desc())
        )
    )
    picked: list[Any] = []
    seen: set[tuple[int, str]] = set()
    for r in rows:
        if (r.registered_model_id, r.current_stage) not in seen:
            seen.add((r.registered_model_id, r.current_stage))
            picked.append(r)
    picked.sort(key=lambda r: (r.registered_model_id, r.version))
    out: dict[int, list[ModelVersion]] = {}
    names = {r.registered_model_id: r.model_name for r in picked}
    entities = _version_rows_to_entities(conn, picked, names)
    for r, entity in zip(picked, entities, strict=True):
        out.setdefault(r.registered_model_id, []).append(entity)
    return out


def _load_models(conn: Connection, rows: Sequence[Any]) -> list[RegisteredModel]:
    ids = [r.id for r in rows]
    if not ids:
        return []
    tags: dict[int, dict[str, str]] = {i: {} for i in ids}
    aliases: dict[int, dict[str, int]] = {i: {} for i in ids}
    t = registered_model_tags.c
    for r in conn.execute(sa.select(registered_model_tags).where(t.registered_model_id.in_(ids))):
        tags[r.registered_model_id][r.key] = r.value
    a = registered_model_aliases.c
    query = (
        sa.select(registered_model_aliases).where(a.registered_model_id.in_(ids)).order_by(a.alias)
    )
    for r in conn.execute(query):
        aliases[r.registered_model_id][r.alias] = r.version
    latest = _latest_per_stage(conn, ids)
    return [
        RegisteredModel(
            name=r.name,
            creation_timestamp=r.creation_timestamp,
            last_updated_timestamp=r.last_updated_timestamp,
            description=r.description,
            user_id=r.user_id,
            tags=tags[r.id],
            aliases=aliases[r.id],
            latest_versions=tuple(latest.get(r.id, [])),
        )
        for r in rows
    ]


def _readable(readable_by: tuple[int, int]) -> ColumnElement[bool]:
    from mltrail.store.schema_auth import registered_model_readable

    user_id, default_level = readable_by
    condition: ColumnElement[bool] = registered_model_readable(
        rm.id, user_id=user_id, default_level=default_level
    )
    return condition
