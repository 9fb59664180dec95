"""search_runs: filter and order_by -> one SELECT of run ids.

Metric, param and tag clauses become ``EXISTS (SELECT ... WHERE run_id = runs.run_id
AND key = ... AND value ...)``: a primary-key lookup per candidate run, so a page in
the default order (served by the (experiment_id, start_time) index) stops as soon as
it is full, and a run without the key never matches, not even ``!=``. ``IS NULL`` is
NOT EXISTS. Ordering by a metric, param or tag LEFT JOINs that one (run_id, key) row,
so a run appears once; runs without the key sort last in both directions, and NaN
metrics sort after every number (infinities sort as the largest/smallest numbers).

The tiebreak after the requested keys is MLflow's (``_get_orderby_clauses`` of its SQL
store): start_time DESC unless start_time was requested, then run_id ascending, so that
equal start times page in the same order on both servers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from mltrail.entities import ViewType
from mltrail.store import schema
from mltrail.store.search.conditions import (
    check_page,
    lifecycle_condition,
    missing_last,
    numeric_condition,
    string_condition,
    string_sort_value,
)
from mltrail.store.search.grammar import RUNS, Clause, Comparator, Entity, OrderKey, ValueType
from mltrail.store.search.parser import parse_filter, parse_order_by_list
from mltrail.store.search.sql_ops import exact_match

_runs = schema.runs
_KEY_TABLES = {
    Entity.METRIC: schema.metric_summaries,
    Entity.PARAM: schema.params,
    Entity.TAG: schema.tags,
}


def run_search_query(
    *,
    experiment_ids: Sequence[int],
    filter_string: str,
    view_type: ViewType,
    order_by: Sequence[str],
    limit: int,
    offset: int,
) -> sa.Select[Any]:
    """SELECT runs.run_id of the matching runs, ordered and paged.

    Raises MalformedFilter for a filter or order_by clause that does not parse.
    """
    check_page(limit=limit, offset=offset)
    clauses = parse_filter(filter_string, vocabulary=RUNS)
    order_keys = parse_order_by_list(order_by, vocabulary=RUNS)

    source: sa.FromClause = _runs
    conditions: list[ColumnElement[bool]] = [
        _runs.c.experiment_id.in_([int(i) for i in experiment_ids]),
        lifecycle_condition(_runs.c.lifecycle_stage, view_type),
    ]
    conditions.extend(_clause_condition(clause) for clause in clauses)

    sort: list[ColumnElement[Any]] = []
    for index, key in enumerate(order_keys):
        source, keys = _order(source, key, index)
        sort.extend(keys)
    named = {(k.entity, k.key) for k in order_keys}
    if (Entity.ATTRIBUTE, "start_time") not in named:
        sort.append(_runs.c.start_time.desc())
    if (Entity.ATTRIBUTE, "run_id") not in named:
        sort.append(_runs.c.run_id.asc())

    return (
        sa.select(_runs.c.run_id)
        .select_from(source)
        .where(*conditions)
        .order_by(*sort)
        .limit(limit)
        .offset(offset)
    )


def _attribute_column(key: str) -> ColumnElement[Any]:
    if key == "duration":
        return _runs.c.end_time - _runs.c.start_time
    column: ColumnElement[Any] = _runs.c[key]
    return column


def _clause_condition(clause: Clause) -> ColumnElement[bool]:
    if clause.entity is Entity.ATTRIBUTE:
        column = _attribute_column(clause.key)
        spec = RUNS.attributes[clause.key]
        if spec.value_type is ValueType.STRING:
            return string_condition(column, clause)
        return numeric_condition(column, clause)

    table = _KEY_TABLES[clause.entity]
    has_key = sa.and_(table.c.run_id == _runs.c.run_id, exact_match(table.c.key, clause.key))
    if clause.comparator is Comparator.IS_NULL:
        return ~sa.exists().where(has_key)
    if clause.comparator is Comparator.IS_NOT_NULL:
        return sa.exists().where(has_key)
    if clause.entity is Entity.METRIC:
        # NaN is stored as NULL, so it fails every comparison, != included.
        value_test = numeric_condition(table.c.value, clause)
    else:
        value_test = string_condition(table.c.value, clause)
    return sa.exists().where(has_key, value_test)


def _order(
    source: sa.FromClause, key: OrderKey, index: int
) -> tuple[sa.FromClause, list[ColumnElement[Any]]]:
    if key.entity is Entity.ATTRIBUTE:
        column = _attribute_column(key.key)
        spec = RUNS.attributes[key.key]
        value = string_sort_value(column) if spec.value_type is ValueType.STRING else column
        return source, missing_last(column.is_not(None), value, ascending=key.ascending)

    table = _KEY_TABLES[key.entity].alias(f"order_{index}")
    joined = source.outerjoin(
        table, sa.and_(table.c.run_id == _runs.c.run_id, exact_match(table.c.key, key.key))
    )
    if key.entity is Entity.METRIC:
        rank = sa.case(
            (table.c.run_id.is_(None), 2),
            (table.c.value_kind == schema.NAN, 1),
            else_=0,
        )
        direction = table.c.value.asc() if key.ascending else table.c.value.desc()
        return joined, [rank.asc(), direction]
    return joined, missing_last(
        table.c.run_id.is_not(None), string_sort_value(table.c.value), ascending=key.ascending
    )
