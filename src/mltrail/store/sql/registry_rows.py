"""Registry rows: lookups by name, loading models and versions with their tags and aliases."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.sql.elements import ColumnElement

from mltrail.errors import ResourceDoesNotExist
from mltrail.model_entities import ModelVersion, RegisteredModel
from mltrail.store.schema_models import (
    model_version_tags,
    model_versions,
    registered_model_aliases,
    registered_model_tags,
    registered_models,
)
from mltrail.store.sql.models_search import (
    FilterClause,
    string_condition,
)

PROMPT_TAG = "mlflow.prompt.is_prompt"

rm, mv = registered_models.c, model_versions.c


def model_missing(name: str) -> ResourceDoesNotExist:
    return ResourceDoesNotExist(f"Registered Model with name={name} not found")


def version_missing(name: str, version: int) -> ResourceDoesNotExist:
    return ResourceDoesNotExist(f"Model Version (name={name}, version={version}) not found")


def model_id_of(conn: Connection, name: str) -> int:
    found = conn.execute(sa.select(rm.id).where(rm.name == name)).scalar()
    if found is None:
        raise model_missing(name)
    return int(found)


def require_version(conn: Connection, name: str, version: int) -> int:
    model_id = model_id_of(conn, name)
    found = conn.execute(
        sa.select(mv.version).where(mv.registered_model_id == model_id, mv.version == version)
    ).first()
    if found is None:
        raise version_missing(name, version)
    return model_id


def set_kv(
    conn: Connection, table: sa.Table, ident: Mapping[str, Any], key: str, value: str
) -> None:
    where = [table.c[k] == v for k, v in ident.items()]
    conn.execute(table.delete().where(*where, table.c.key == key))
    conn.execute(table.insert().values(**ident, key=key, value=value))


def get_version(conn: Connection, name: str, version: int) -> ModelVersion:
    row = conn.execute(versions_query().where(rm.name == name, mv.version == version)).first()
    if row is None:
        raise version_missing(name, version)
    return load_versions(conn, [row])[0]


def versions_query() -> sa.Select[Any]:
    return sa.select(model_versions, rm.name.label("model_name")).join(
        registered_models, rm.id == mv.registered_model_id
    )


def tag_condition(
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


def load_versions(conn: Connection, rows: Sequence[Any]) -> list[ModelVersion]:
    names = {r.registered_model_id: r.model_name for r in rows}
    return _version_rows_to_entities(conn, rows, names)


def latest_per_stage(conn: Connection, rm_ids: Sequence[int]) -> dict[int, list[ModelVersion]]:
    if not rm_ids:
        return {}
    rows = list(
        conn.execute(
            versions_query()
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


def load_models(conn: Connection, rows: Sequence[Any]) -> list[RegisteredModel]:
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
    latest = latest_per_stage(conn, ids)
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


def readable(readable_by: tuple[int, int]) -> ColumnElement[bool]:
    from mltrail.store.schema_auth import registered_model_readable

    user_id, default_level = readable_by
    condition: ColumnElement[bool] = registered_model_readable(
        rm.id, user_id=user_id, default_level=default_level
    )
    return condition
