"""Logged models and the registry of an MLflow database (see ``mlflow_sql``)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from mltrail.model_entities import LoggedModel, LoggedModelMetric, LoggedModelStatus, ModelVersion
from mltrail.transfer.records import ACTIVE, ExperimentRecord, RegisteredModelRecord

DELETED_VERSION_STAGE = "Deleted_Internal"
IN_LIMIT = 500
_SAFE_ID = re.compile(r"^[A-Za-z0-9_.\-]+$")

Tables = Callable[[str], sa.Table]
Workspace = Callable[[sa.Table], list[Any]]


def _in_parts(items: Sequence[str]) -> Iterator[list[str]]:
    for start in range(0, len(items), IN_LIMIT):
        yield list(items[start : start + IN_LIMIT])


def logged_models(
    conn: Connection, table: Tables, experiment: ExperimentRecord
) -> list[LoggedModel]:
    lm = table("logged_models")
    exp_id = int(experiment.source_id)
    rows = conn.execute(
        sa.select(lm).where(lm.c.experiment_id == exp_id).order_by(lm.c.model_id)
    ).all()
    ids = [r.model_id for r in rows]
    params = _model_pairs(conn, table("logged_model_params"), "param", ids)
    tags = _model_pairs(conn, table("logged_model_tags"), "tag", ids)
    metrics = _model_metrics(conn, table("logged_model_metrics"), ids)
    return [
        LoggedModel(
            model_id=r.model_id,
            experiment_id=experiment.source_id,
            name=r.name,
            artifact_location=r.artifact_location,
            creation_timestamp=int(r.creation_timestamp_ms),
            last_updated_timestamp=int(r.last_updated_timestamp_ms),
            status=LoggedModelStatus.parse(int(r.status)),
            status_message=r.status_message,
            model_type=r.model_type,
            source_run_id=r.source_run_id,
            lifecycle_stage=r.lifecycle_stage or ACTIVE,
            params=params.get(r.model_id, {}),
            tags=tags.get(r.model_id, {}),
            metrics=tuple(metrics.get(r.model_id, [])),
        )
        for r in rows
    ]


def _model_pairs(
    conn: Connection, table: sa.Table, prefix: str, ids: list[str]
) -> dict[str, dict[str, str]]:
    key, value = table.c[f"{prefix}_key"], table.c[f"{prefix}_value"]
    out: dict[str, dict[str, str]] = {}
    for part in _in_parts(ids):
        for model_id, k, v in conn.execute(
            sa.select(table.c.model_id, key, value).where(table.c.model_id.in_(part))
        ):
            out.setdefault(model_id, {})[k] = v or ""
    return out


def _model_metrics(
    conn: Connection, mm: sa.Table, ids: list[str]
) -> dict[str, list[LoggedModelMetric]]:
    out: dict[str, list[LoggedModelMetric]] = {}
    for part in _in_parts(ids):
        query = (
            sa.select(mm)
            .where(mm.c.model_id.in_(part))
            .order_by(mm.c.metric_name, mm.c.metric_step, mm.c.metric_timestamp_ms)
        )
        for r in conn.execute(query):
            out.setdefault(r.model_id, []).append(
                LoggedModelMetric(
                    key=r.metric_name,
                    value=math.nan if r.metric_value is None else float(r.metric_value),
                    timestamp=int(r.metric_timestamp_ms),
                    step=int(r.metric_step),
                    run_id=r.run_id,
                    model_id=r.model_id,
                    dataset_name=r.dataset_name,
                    dataset_digest=r.dataset_digest,
                )
            )
    return out


def registered_models(
    conn: Connection, table: Tables, ws: Workspace
) -> list[RegisteredModelRecord]:
    """Registered models with their versions; deleted versions only count for numbering."""
    rm, rmt = table("registered_models"), table("registered_model_tags")
    mv, mvt = table("model_versions"), table("model_version_tags")
    aliases = table("registered_model_aliases")
    models = conn.execute(sa.select(rm).where(*ws(rm)).order_by(rm.c.name)).all()
    model_tags = _grouped(conn, sa.select(rmt.c.name, rmt.c.key, rmt.c.value).where(*ws(rmt)))
    alias_map: dict[str, dict[str, int]] = {}
    for name, alias, version in conn.execute(
        sa.select(aliases.c.name, aliases.c.alias, aliases.c.version).where(*ws(aliases))
    ):
        alias_map.setdefault(name, {})[alias] = int(version)
    version_rows = conn.execute(
        sa.select(mv).where(*ws(mv)).order_by(mv.c.name, mv.c.version)
    ).all()
    version_tags: dict[tuple[str, int], dict[str, str]] = {}
    for name, version, key, value in conn.execute(
        sa.select(mvt.c.name, mvt.c.version, mvt.c.key, mvt.c.value).where(*ws(mvt))
    ):
        version_tags.setdefault((name, int(version)), {})[key] = value or ""
    versions, last = _versions(version_rows, version_tags)
    return [
        RegisteredModelRecord(
            name=m.name,
            creation_timestamp=int(m.creation_time or 0),
            last_updated_timestamp=int(m.last_updated_time or m.creation_time or 0),
            description=m.description,
            tags=model_tags.get(m.name, {}),
            aliases=alias_map.get(m.name, {}),
            versions=tuple(versions.get(m.name, [])),
            last_version=last.get(m.name, 0),
        )
        for m in models
    ]


def _versions(
    rows: Sequence[Any], tags: dict[tuple[str, int], dict[str, str]]
) -> tuple[dict[str, list[ModelVersion]], dict[str, int]]:
    """Versions by model name, and the highest number ever given per model."""
    versions: dict[str, list[ModelVersion]] = {}
    last: dict[str, int] = {}
    for v in rows:
        last[v.name] = max(last.get(v.name, 0), int(v.version))
        if v.current_stage == DELETED_VERSION_STAGE:
            continue
        versions.setdefault(v.name, []).append(
            ModelVersion(
                name=v.name,
                version=int(v.version),
                creation_timestamp=int(v.creation_time or 0),
                last_updated_timestamp=int(v.last_updated_time or v.creation_time or 0),
                current_stage=v.current_stage or "None",
                description=v.description,
                source=v.source or "",
                storage_location=v.storage_location or v.source or "",
                run_id=v.run_id,
                run_link=v.run_link,
                model_id=model_id_of_source(v.source),
                user_id=v.user_id,
                status=v.status or "READY",
                status_message=v.status_message,
                tags=tags.get((v.name, int(v.version)), {}),
            )
        )
    return versions, last


def _grouped(conn: Connection, query: Any) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for owner, key, value in conn.execute(query):
        out.setdefault(owner, {})[key] = value or ""
    return out


def model_id_of_source(source: str | None) -> str | None:
    """The logged model a version's ``models:/m-...`` source names, else None."""
    if source and source.startswith("models:/m-"):
        ref = source[len("models:/") :].strip("/")
        if "/" not in ref and "@" not in ref and _SAFE_ID.match(ref):
            return ref
    return None
