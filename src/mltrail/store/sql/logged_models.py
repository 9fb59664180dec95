"""``SqlLoggedModelStore``: MLflow 3 logged models (the entity ``log_model`` writes to)."""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement

from mltrail.errors import InvalidParameterValue, ResourceAlreadyExists, ResourceDoesNotExist
from mltrail.model_entities import (
    DatasetScope,
    LoggedModel,
    LoggedModelMetric,
    LoggedModelStatus,
    ModelOrder,
)
from mltrail.store.schema import FINITE, NAN, NEG_INF, POS_INF
from mltrail.store.schema_models import (
    logged_model_metrics,
    logged_model_params,
    logged_model_tags,
    logged_models,
)
from mltrail.store.search.sql_ops import BinarySortKey
from mltrail.store.sql.engine import read_connection, run_write
from mltrail.store.sql.models_search import (
    LOGGED_MODELS,
    FilterClause,
    FilterEntity,
    numeric_condition,
    parse_filter,
    string_condition,
)

_MAX_DOUBLE = sys.float_info.max
ACTIVE, DELETED = "active", "deleted"

# order_by field names (as the client sends them) -> columns
_ORDER_COLUMNS = {
    "name": logged_models.c.name,
    "model_id": logged_models.c.model_id,
    "model_type": logged_models.c.model_type,
    "status": logged_models.c.status,
    "source_run_id": logged_models.c.source_run_id,
    "experiment_id": logged_models.c.experiment_id,
    "creation_timestamp": logged_models.c.creation_timestamp,
    "creation_time": logged_models.c.creation_timestamp,
    "last_updated_timestamp": logged_models.c.last_updated_timestamp,
    "last_updated_time": logged_models.c.last_updated_timestamp,
}
_STRING_ORDER = {"name", "model_id", "model_type", "status", "source_run_id"}


def encode_value(value: float) -> tuple[float | None, int]:
    """A finite stand-in for MySQL's DOUBLE plus the kind of value it really was."""
    if math.isnan(value):
        return None, NAN
    if math.isinf(value):
        return (_MAX_DOUBLE, POS_INF) if value > 0 else (-_MAX_DOUBLE, NEG_INF)
    return value, FINITE


def decode_value(value: float | None, kind: int) -> float:
    if kind == NAN or value is None:
        return math.nan
    if kind == POS_INF:
        return math.inf
    if kind == NEG_INF:
        return -math.inf
    return float(value)


class SqlLoggedModelStore:
    """Logged models on one SQL database. Thread-safe (one pooled engine)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- writes ------------------------------------------------------------
    def create(
        self,
        model_id: str,
        *,
        experiment_id: str,
        name: str,
        artifact_location: str,
        now: int,
        source_run_id: str | None = None,
        model_type: str | None = None,
        params: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        status: LoggedModelStatus = LoggedModelStatus.PENDING,
    ) -> LoggedModel:
        def work(conn: Connection) -> None:
            conn.execute(
                logged_models.insert().values(
                    model_id=model_id,
                    experiment_id=int(experiment_id),
                    name=name,
                    artifact_location=artifact_location,
                    creation_timestamp=now,
                    last_updated_timestamp=now,
                    status=status.value,
                    model_type=model_type,
                    source_run_id=source_run_id,
                    lifecycle_stage=ACTIVE,
                )
            )
            _upsert(conn, logged_model_params, model_id, params or {})
            _upsert(conn, logged_model_tags, model_id, tags or {})

        try:
            run_write(self.engine, work)
        except IntegrityError as exc:
            if self._exists(model_id):
                raise ResourceAlreadyExists(f"Logged model {model_id!r} already exists") from exc
            raise ResourceDoesNotExist(f"No experiment with id={experiment_id}") from exc
        return self.get(model_id)

    def _exists(self, model_id: str) -> bool:
        with read_connection(self.engine) as conn:
            found = conn.execute(
                sa.select(logged_models.c.model_id).where(logged_models.c.model_id == model_id)
            ).first()
        return found is not None

    def finalize(self, model_id: str, *, status: LoggedModelStatus, now: int) -> LoggedModel:
        def work(conn: Connection) -> None:
            _require(conn, model_id)
            conn.execute(
                logged_models.update()
                .where(logged_models.c.model_id == model_id)
                .values(status=status.value, last_updated_timestamp=now)
            )

        run_write(self.engine, work)
        return self.get(model_id)

    def set_tags(self, model_id: str, *, tags: Mapping[str, str], now: int) -> None:
        self._write_children(model_id, logged_model_tags, tags, now=now)

    def log_params(self, model_id: str, *, params: Mapping[str, str], now: int) -> None:
        self._write_children(model_id, logged_model_params, params, now=now)

    def _write_children(
        self, model_id: str, table: sa.Table, values: Mapping[str, str], *, now: int
    ) -> None:
        def work(conn: Connection) -> None:
            _require(conn, model_id)
            _upsert(conn, table, model_id, values)
            _touch(conn, model_id, now)

        run_write(self.engine, work)

    def delete_tag(self, model_id: str, *, key: str, now: int) -> None:
        def work(conn: Connection) -> None:
            _require(conn, model_id)
            deleted = conn.execute(
                logged_model_tags.delete().where(
                    logged_model_tags.c.model_id == model_id, logged_model_tags.c.key == key
                )
            ).rowcount
            if not deleted:
                raise ResourceDoesNotExist(f"No tag with key {key!r} on logged model {model_id!r}")
            _touch(conn, model_id, now)

        run_write(self.engine, work)

    def delete(self, model_id: str, *, now: int) -> None:
        """Soft delete: the model disappears from gets and searches, its files stay."""

        def work(conn: Connection) -> None:
            _require(conn, model_id)
            conn.execute(
                logged_models.update()
                .where(logged_models.c.model_id == model_id)
                .values(lifecycle_stage=DELETED, last_updated_timestamp=now)
            )

        run_write(self.engine, work)

    def log_metrics(self, model_id: str, *, metrics: Sequence[LoggedModelMetric]) -> None:
        """Link metric values to a model (what a run's metrics logged with ``model_id`` do)."""
        if not metrics:
            return

        def work(conn: Connection) -> None:
            _require(conn, model_id)
            rows = []
            for m in metrics:
                value, kind = encode_value(m.value)
                rows.append(
                    {
                        "model_id": model_id,
                        "key": m.key,
                        "value": value,
                        "value_kind": kind,
                        "timestamp": m.timestamp,
                        "step": m.step,
                        "run_id": m.run_id,
                        "dataset_name": m.dataset_name,
                        "dataset_digest": m.dataset_digest,
                    }
                )
            conn.execute(logged_model_metrics.insert(), rows)

        run_write(self.engine, work)

    # -- reads -------------------------------------------------------------
    def get(self, model_id: str, *, allow_deleted: bool = False) -> LoggedModel:
        with read_connection(self.engine) as conn:
            row = conn.execute(
                sa.select(logged_models).where(logged_models.c.model_id == model_id)
            ).first()
            if row is None or (row.lifecycle_stage == DELETED and not allow_deleted):
                raise ResourceDoesNotExist(f"Logged model with ID '{model_id}' not found.")
            return _load(conn, [row])[0]

    def search(
        self,
        *,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        datasets: Sequence[DatasetScope] = (),
        order_by: Sequence[ModelOrder] = (),
        max_results: int = 100,
        offset: int = 0,
    ) -> tuple[list[LoggedModel], bool]:
        """One page of active models; the flag says whether more follow."""
        lm = logged_models.c
        ids = [_experiment_int(e) for e in experiment_ids]
        query = sa.select(logged_models).where(
            lm.experiment_id.in_(ids), lm.lifecycle_stage == ACTIVE
        )
        clauses = parse_filter(filter_string, LOGGED_MODELS)
        for clause in clauses:
            query = query.where(_condition(clause, datasets))
        if datasets and not any(c.entity is FilterEntity.METRIC for c in clauses):
            # As MLflow: without a metric filter, the datasets select the models that have
            # a metric on one of them.
            mm = logged_model_metrics.c
            query = query.where(
                sa.exists().where(mm.model_id == lm.model_id, _metric_scope(datasets))
            )
        query = query.order_by(*_ordering(order_by)).limit(max_results + 1).offset(offset)
        with read_connection(self.engine) as conn:
            rows = list(conn.execute(query))
            more = len(rows) > max_results
            return _load(conn, rows[:max_results]), more


def _experiment_int(experiment_id: str) -> int:
    try:
        return int(experiment_id)
    except (TypeError, ValueError):
        raise InvalidParameterValue(f"Invalid experiment id {experiment_id!r}") from None


def _require(conn: Connection, model_id: str) -> None:
    row = conn.execute(
        sa.select(logged_models.c.lifecycle_stage).where(logged_models.c.model_id == model_id)
    ).first()
    if row is None or row.lifecycle_stage == DELETED:
        raise ResourceDoesNotExist(f"Logged model with ID '{model_id}' not found.")


def _touch(conn: Connection, model_id: str, now: int) -> None:
    conn.execute(
        logged_models.update()
        .where(logged_models.c.model_id == model_id)
        .values(last_updated_timestamp=now)
    )


def _upsert(conn: Connection, table: sa.Table, model_id: str, values: Mapping[str, str]) -> None:
    if not values:
        return
    conn.execute(table.delete().where(table.c.model_id == model_id, table.c.key.in_(list(values))))
    conn.execute(
        table.insert(), [{"model_id": model_id, "key": k, "value": v} for k, v in values.items()]
    )


def _metric_scope(datasets: Sequence[DatasetScope]) -> ColumnElement[bool]:
    mm = logged_model_metrics.c
    if not datasets:
        return sa.true()
    return sa.or_(
        *(
            sa.and_(
                mm.dataset_name == d.name,
                sa.true() if d.digest is None else mm.dataset_digest == d.digest,
            )
            for d in datasets
        )
    )


def _condition(clause: FilterClause, datasets: Sequence[DatasetScope]) -> ColumnElement[bool]:
    lm = logged_models.c
    if clause.entity is FilterEntity.ATTRIBUTE:
        column = lm.experiment_id if clause.key == "experiment_id" else lm[clause.key]
        if clause.key in ("creation_timestamp", "last_updated_timestamp"):
            return numeric_condition(column, clause.comparator, clause.value)
        value = clause.value
        if clause.key == "status" and isinstance(value, str):
            value = LoggedModelStatus.parse(value).value
        return string_condition(column, clause.comparator, value)
    if clause.entity is FilterEntity.METRIC:
        mm = logged_model_metrics.c
        value_col = mm.value
        return sa.exists().where(
            mm.model_id == lm.model_id,
            mm.key == clause.key,
            mm.value_kind == FINITE,
            _metric_scope(datasets),
            numeric_condition(value_col, clause.comparator, clause.value),
        )
    table = logged_model_tags if clause.entity is FilterEntity.TAG else logged_model_params
    return sa.exists().where(
        table.c.model_id == lm.model_id,
        table.c.key == clause.key,
        string_condition(table.c.value, clause.comparator, clause.value),
    )


def _ordering(order_by: Sequence[ModelOrder]) -> list[ColumnElement[Any]]:
    lm = logged_models.c
    out: list[ColumnElement[Any]] = []
    for order in order_by:
        name = order.field_name
        if name.startswith(("metrics.", "metric.")):
            metric_key = name.split(".", 1)[1]
            mm = logged_model_metrics.c
            scope = _metric_scope(
                [DatasetScope(order.dataset_name, order.dataset_digest)]
                if order.dataset_name
                else []
            )
            latest = (
                sa.select(mm.value)
                .where(mm.model_id == lm.model_id, mm.key == metric_key, scope)
                .order_by(mm.step.desc(), mm.timestamp.desc())
                .limit(1)
                .scalar_subquery()
            )
            # Models without the metric sort last either way.
            out.append(latest.is_(None))
            out.append(latest.asc() if order.ascending else latest.desc())
            continue
        column = _ORDER_COLUMNS.get(name.removeprefix("attributes.").removeprefix("attribute."))
        if column is None:
            valid = ", ".join(sorted(_ORDER_COLUMNS))
            raise InvalidParameterValue(
                f"Invalid order_by field {name!r} for logged models; valid fields are {valid} "
                "and metrics.<key>"
            )
        sort: ColumnElement[Any] = BinarySortKey(column) if column.name in _STRING_ORDER else column
        out.append(sort.asc() if order.ascending else sort.desc())
    out.append(lm.creation_timestamp.desc())
    out.append(lm.model_id.asc())
    return out


def _load(conn: Connection, rows: Iterable[Any]) -> list[LoggedModel]:
    rows = list(rows)
    if not rows:
        return []
    ids = [r.model_id for r in rows]
    params: dict[str, dict[str, str]] = {i: {} for i in ids}
    tags: dict[str, dict[str, str]] = {i: {} for i in ids}
    metrics: dict[str, list[LoggedModelMetric]] = {i: [] for i in ids}
    for table, target in ((logged_model_params, params), (logged_model_tags, tags)):
        for r in conn.execute(sa.select(table).where(table.c.model_id.in_(ids))):
            target[r.model_id][r.key] = r.value
    mm = logged_model_metrics
    query = sa.select(mm).where(mm.c.model_id.in_(ids)).order_by(mm.c.key, mm.c.step, mm.c.id)
    for r in conn.execute(query):
        metrics[r.model_id].append(
            LoggedModelMetric(
                key=r.key,
                value=decode_value(r.value, r.value_kind),
                timestamp=r.timestamp,
                step=r.step,
                run_id=r.run_id,
                model_id=r.model_id,
                dataset_name=r.dataset_name,
                dataset_digest=r.dataset_digest,
            )
        )
    return [
        LoggedModel(
            model_id=r.model_id,
            experiment_id=str(r.experiment_id),
            name=r.name,
            artifact_location=r.artifact_location,
            creation_timestamp=r.creation_timestamp,
            last_updated_timestamp=r.last_updated_timestamp,
            status=LoggedModelStatus.parse(r.status),
            status_message=r.status_message,
            model_type=r.model_type,
            source_run_id=r.source_run_id,
            lifecycle_stage=r.lifecycle_stage,
            tags=tags[r.model_id],
            params=params[r.model_id],
            metrics=tuple(metrics[r.model_id]),
        )
        for r in rows
    ]
