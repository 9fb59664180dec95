"""Experiments and their tags (functions over a connection, called inside store transactions)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Row, delete, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from mltrail.entities import Experiment, LifecycleStage
from mltrail.errors import InvalidParameterValue, ResourceAlreadyExists, ResourceDoesNotExist
from mltrail.store.schema import experiment_tags, experiments, runs

DEFAULT_EXPERIMENT_ID = 0
DEFAULT_EXPERIMENT_NAME = "Default"

_e = experiments.c
_et = experiment_tags.c


def parse_experiment_id(experiment_id: str | int) -> int:
    """The integer key of an experiment id; anything else names no experiment."""
    text_id = str(experiment_id).strip()
    if not text_id.isdigit() or len(text_id) > 18:
        raise ResourceDoesNotExist(f"No Experiment with id={experiment_id} exists")
    return int(text_id)


def join_location(root: str, experiment_id: int | str) -> str:
    return f"{root.rstrip('/')}/{experiment_id}" if root else str(experiment_id)


def _not_found(experiment_id: object) -> ResourceDoesNotExist:
    return ResourceDoesNotExist(f"No Experiment with id={experiment_id} exists")


def _already_exists(name: str) -> ResourceAlreadyExists:
    return ResourceAlreadyExists(f"Experiment(name={name}) already exists.")


def _to_entity(row: Row[Any], tags: Mapping[str, str]) -> Experiment:
    return Experiment(
        experiment_id=str(row.experiment_id),
        name=row.name,
        artifact_location=row.artifact_location,
        lifecycle_stage=row.lifecycle_stage,
        tags=dict(tags),
        creation_time=row.creation_time,
        last_update_time=row.last_update_time,
    )


def load_experiments(conn: Connection, ids: Sequence[int]) -> list[Experiment]:
    """Experiments with their tags, in the order of ``ids`` (missing ids are skipped)."""
    if not ids:
        return []
    rows = {
        r.experiment_id: r
        for r in conn.execute(select(experiments).where(_e.experiment_id.in_(ids)))
    }
    tags: dict[int, dict[str, str]] = {i: {} for i in ids}
    for exp_id, key, value in conn.execute(
        select(_et.experiment_id, _et["key"], _et.value).where(_et.experiment_id.in_(ids))
    ):
        tags[exp_id][key] = value
    return [_to_entity(rows[i], tags[i]) for i in ids if i in rows]


def get_experiment(conn: Connection, experiment_id: str | int) -> Experiment:
    exp_id = parse_experiment_id(experiment_id)
    found = load_experiments(conn, [exp_id])
    if not found:
        raise _not_found(experiment_id)
    return found[0]


def get_experiment_by_name(conn: Connection, name: str) -> Experiment | None:
    exp_id = conn.execute(select(_e.experiment_id).where(_e.name == name)).scalar()
    if exp_id is None:
        return None
    return load_experiments(conn, [exp_id])[0]


def lifecycle_of(conn: Connection, exp_id: int, *, for_update: bool = False) -> str:
    stmt = select(_e.lifecycle_stage).where(_e.experiment_id == exp_id)
    if for_update:
        stmt = stmt.with_for_update()
    stage = conn.execute(stmt).scalar()
    if stage is None:
        raise _not_found(exp_id)
    return str(stage)


def create_experiment(
    conn: Connection,
    name: str,
    *,
    artifact_location: str | None,
    tags: Mapping[str, str],
    creation_time: int,
    default_root: str,
) -> str:
    if conn.execute(select(_e.experiment_id).where(_e.name == name)).first() is not None:
        raise _already_exists(name)
    try:
        with conn.begin_nested():
            result = conn.execute(
                insert(experiments).values(
                    name=name,
                    artifact_location=artifact_location or "",
                    lifecycle_stage=LifecycleStage.ACTIVE.value,
                    creation_time=creation_time,
                    last_update_time=creation_time,
                )
            )
    except IntegrityError as exc:
        raise _already_exists(name) from exc
    pk = result.inserted_primary_key
    assert pk is not None
    exp_id = int(pk[0])
    if not artifact_location:
        conn.execute(
            update(experiments)
            .where(_e.experiment_id == exp_id)
            .values(artifact_location=join_location(default_root, exp_id))
        )
    if tags:
        conn.execute(
            insert(experiment_tags),
            [{"experiment_id": exp_id, "key": k, "value": v} for k, v in tags.items()],
        )
    return str(exp_id)


def ensure_default_experiment(conn: Connection, *, default_root: str, now: int) -> None:
    """Create experiment 0 ("Default") when the database has none."""
    if conn.execute(
        select(_e.experiment_id).where(_e.experiment_id == DEFAULT_EXPERIMENT_ID)
    ).first():
        return
    mysql = conn.dialect.name in ("mysql", "mariadb")
    if mysql:
        # Inserting 0 into an AUTO_INCREMENT column otherwise means "next value".
        old_mode = conn.execute(text("SELECT @@SESSION.sql_mode")).scalar()
        conn.execute(
            text("SET SESSION sql_mode = CONCAT(@@SESSION.sql_mode, ',NO_AUTO_VALUE_ON_ZERO')")
        )
    try:
        conn.execute(
            insert(experiments).values(
                experiment_id=DEFAULT_EXPERIMENT_ID,
                name=DEFAULT_EXPERIMENT_NAME,
                artifact_location=join_location(default_root, DEFAULT_EXPERIMENT_ID),
                lifecycle_stage=LifecycleStage.ACTIVE.value,
                creation_time=now,
                last_update_time=now,
            )
        )
    finally:
        if mysql:
            conn.execute(text("SET SESSION sql_mode = :m"), {"m": old_mode})


def rename_experiment(
    conn: Connection, experiment_id: str, *, new_name: str, update_time: int
) -> None:
    exp_id = parse_experiment_id(experiment_id)
    stage = lifecycle_of(conn, exp_id, for_update=True)
    if stage != LifecycleStage.ACTIVE.value:
        raise InvalidParameterValue("Cannot rename a non-active experiment.")
    clash = conn.execute(
        select(_e.experiment_id).where(_e.name == new_name, _e.experiment_id != exp_id)
    ).first()
    if clash is not None:
        raise _already_exists(new_name)
    try:
        with conn.begin_nested():
            conn.execute(
                update(experiments)
                .where(_e.experiment_id == exp_id)
                .values(name=new_name, last_update_time=update_time)
            )
    except IntegrityError as exc:
        raise _already_exists(new_name) from exc


def set_lifecycle(
    conn: Connection, experiment_id: str, *, stage: LifecycleStage, time: int
) -> None:
    """Soft-delete or restore an experiment together with its runs."""
    exp_id = parse_experiment_id(experiment_id)
    current = lifecycle_of(conn, exp_id, for_update=True)
    if stage == LifecycleStage.ACTIVE and current == LifecycleStage.ACTIVE.value:
        raise InvalidParameterValue(
            f"Cannot restore an experiment that is not deleted (id={experiment_id})."
        )
    deleted_time = time if stage == LifecycleStage.DELETED else None
    conn.execute(
        update(experiments)
        .where(_e.experiment_id == exp_id)
        .values(lifecycle_stage=stage.value, last_update_time=time, deleted_time=deleted_time)
    )
    conn.execute(
        update(runs)
        .where(runs.c.experiment_id == exp_id)
        .values(lifecycle_stage=stage.value, deleted_time=deleted_time)
    )


def set_tag(conn: Connection, experiment_id: str, *, key: str, value: str) -> None:
    exp_id = parse_experiment_id(experiment_id)
    if lifecycle_of(conn, exp_id) != LifecycleStage.ACTIVE.value:
        raise InvalidParameterValue(
            f"The experiment {experiment_id} must be in the 'active' state. Current state is deleted."
        )
    updated = conn.execute(
        update(experiment_tags)
        .where(_et.experiment_id == exp_id, _et["key"] == key)
        .values(value=value)
    )
    if updated.rowcount == 0:
        exists = conn.execute(
            select(_et.value).where(_et.experiment_id == exp_id, _et["key"] == key)
        ).first()
        if exists is None:  # MySQL counts unchanged rows as not updated
            conn.execute(insert(experiment_tags).values(experiment_id=exp_id, key=key, value=value))


def delete_tag(conn: Connection, experiment_id: str, *, key: str) -> None:
    exp_id = parse_experiment_id(experiment_id)
    if lifecycle_of(conn, exp_id) != LifecycleStage.ACTIVE.value:
        raise InvalidParameterValue(
            f"The experiment {experiment_id} must be in the 'active' state. Current state is deleted."
        )
    deleted = conn.execute(
        delete(experiment_tags).where(_et.experiment_id == exp_id, _et["key"] == key)
    )
    if deleted.rowcount == 0:
        raise ResourceDoesNotExist(f"No tag with name: {key} in experiment with id {experiment_id}")
