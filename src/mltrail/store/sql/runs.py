"""Runs: rows, params and tags (whole runs are loaded by ``run_pages``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Insert, bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from mltrail.entities import LifecycleStage, Run, RunInfo, RunStatus
from mltrail.errors import (
    InvalidParameterValue,
    ParamOverwrite,
    ResourceAlreadyExists,
    ResourceDoesNotExist,
)
from mltrail.store.schema import params, runs, tags
from mltrail.store.sql import experiments as exps
from mltrail.store.sql.engine import RetryableConflict
from mltrail.store.sql.prepared import Prepared
from mltrail.store.sql.run_pages import info_of, load_runs

RUN_NAME_TAG = "mlflow.runName"
_IN_LIMIT = 500

_r = runs.c
_p = params.c
_t = tags.c


def not_found(run_id: str) -> ResourceDoesNotExist:
    return ResourceDoesNotExist(f"Run with id={run_id} not found")


def _insert_racing(conn: Connection, stmt: Insert, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert rows a concurrent transaction may insert first; if it does, start over."""
    try:
        with conn.begin_nested():
            conn.execute(stmt, list(rows))
    except IntegrityError as exc:
        raise RetryableConflict(str(exc)) from exc


def _chunks(items: Sequence[str]) -> list[Sequence[str]]:
    return [items[i : i + _IN_LIMIT] for i in range(0, len(items), _IN_LIMIT)]


def get_run(conn: Connection, run_id: str) -> Run:
    found = load_runs(conn, [run_id])
    if not found:
        raise not_found(run_id)
    return found[0]


# Built once: every logging request reads its run, and building a statement costs more
# than executing this one on SQLite.
_INFO = select(runs).where(_r.run_id == bindparam("run_id"))
_INFO_FOR_UPDATE = _INFO.with_for_update()


def get_info(conn: Connection, run_id: str, *, for_update: bool = False) -> RunInfo:
    stmt = _INFO_FOR_UPDATE if for_update else _INFO
    row = conn.execute(stmt, {"run_id": run_id}).first()
    if row is None:
        raise not_found(run_id)
    return info_of(row)


# Every logging request checks its run: the cheapest form of that query.
_LIFECYCLE = Prepared(select(_r.lifecycle_stage).where(_r.run_id == bindparam("run_id")))


def require_active(conn: Connection, run_id: str) -> None:
    rows = _LIFECYCLE.fetch(conn, {"run_id": run_id})
    if not rows:
        raise not_found(run_id)
    stage = rows[0][0]
    if stage != LifecycleStage.ACTIVE.value:
        raise InvalidParameterValue(
            f"The run {run_id} must be in the 'active' state. Current state is {stage}."
        )


def create_run(
    conn: Connection,
    experiment_id: str,
    *,
    run_id: str,
    run_name: str,
    user_id: str,
    start_time: int,
    tag_values: Mapping[str, str],
) -> Run:
    exp = exps.get_experiment(conn, experiment_id)
    existing = conn.execute(select(_r.experiment_id).where(_r.run_id == run_id)).first()
    if existing is not None:
        if str(existing.experiment_id) == exp.experiment_id:
            return get_run(conn, run_id)
        raise ResourceAlreadyExists(f"Run with id={run_id} already exists in another experiment")
    if exp.lifecycle_stage != LifecycleStage.ACTIVE.value:
        raise InvalidParameterValue(
            f"The experiment {experiment_id} must be in the 'active' state. "
            f"Current state is {exp.lifecycle_stage}."
        )
    _insert_racing(
        conn,
        insert(runs),
        [
            dict(
                run_id=run_id,
                experiment_id=int(exp.experiment_id),
                run_name=run_name,
                user_id=user_id,
                status=RunStatus.RUNNING.value,
                start_time=start_time,
                end_time=None,
                lifecycle_stage=LifecycleStage.ACTIVE.value,
                artifact_uri=f"{exp.artifact_location.rstrip('/')}/{run_id}/artifacts",
            )
        ],
    )
    all_tags = {**tag_values, RUN_NAME_TAG: run_name}
    conn.execute(
        insert(tags), [{"run_id": run_id, "key": k, "value": v} for k, v in all_tags.items()]
    )
    return get_run(conn, run_id)


def update_run(
    conn: Connection,
    run_id: str,
    *,
    status: RunStatus | None,
    end_time: int | None,
    run_name: str | None,
) -> RunInfo:
    require_active(conn, run_id)
    values: dict[str, Any] = {}
    if status is not None:
        values["status"] = status.value
    if end_time is not None:
        values["end_time"] = end_time
    if run_name:
        values["run_name"] = run_name
        upsert_tags(conn, run_id, {RUN_NAME_TAG: run_name}, sync_name=False)
    if values:
        conn.execute(update(runs).where(_r.run_id == run_id).values(**values))
    return get_info(conn, run_id)


def set_lifecycle(
    conn: Connection, run_id: str, *, stage: LifecycleStage, time: int | None
) -> None:
    info = get_info(conn, run_id, for_update=True)
    if stage == LifecycleStage.ACTIVE:
        exp_stage = exps.lifecycle_of(conn, int(info.experiment_id))
        if exp_stage != LifecycleStage.ACTIVE.value:
            raise InvalidParameterValue(
                f"Cannot restore run {run_id}: its experiment {info.experiment_id} is deleted."
            )
    conn.execute(
        update(runs)
        .where(_r.run_id == run_id)
        .values(
            lifecycle_stage=stage.value,
            deleted_time=time if stage == LifecycleStage.DELETED else None,
        )
    )


def insert_params(conn: Connection, run_id: str, new: Mapping[str, str]) -> None:
    """Write-once params: equal values are no-ops, different values are refused."""
    if not new:
        return
    keys = list(new)
    existing: dict[str, str] = {}
    for part in _chunks(keys):
        for key, value in conn.execute(
            select(_p["key"], _p.value).where(_p.run_id == run_id, _p["key"].in_(list(part)))
        ):
            existing[key] = value
    for key, value in existing.items():
        if new[key] != value:
            raise ParamOverwrite.changing(key=key, old=value, new=new[key], run_id=run_id)
    rows = [{"run_id": run_id, "key": k, "value": v} for k, v in new.items() if k not in existing]
    if rows:
        _insert_racing(conn, insert(params), rows)


def upsert_tags(
    conn: Connection, run_id: str, new: Mapping[str, str], *, sync_name: bool = True
) -> None:
    if not new:
        return
    existing: dict[str, str] = {}
    for part in _chunks(list(new)):
        for key, value in conn.execute(
            select(_t["key"], _t.value).where(_t.run_id == run_id, _t["key"].in_(list(part)))
        ):
            existing[key] = value
    changed = [(k, v) for k, v in new.items() if k in existing and existing[k] != v]
    for key, value in changed:
        conn.execute(update(tags).where(_t.run_id == run_id, _t["key"] == key).values(value=value))
    rows = [{"run_id": run_id, "key": k, "value": v} for k, v in new.items() if k not in existing]
    if rows:
        _insert_racing(conn, insert(tags), rows)
    name = new.get(RUN_NAME_TAG)
    if sync_name and name:
        conn.execute(update(runs).where(_r.run_id == run_id).values(run_name=name))


def delete_tag(conn: Connection, run_id: str, *, key: str) -> None:
    require_active(conn, run_id)
    result = conn.execute(delete(tags).where(_t.run_id == run_id, _t["key"] == key))
    if result.rowcount == 0:
        raise ResourceDoesNotExist(f"No tag with name: {key} in run with id {run_id}")
