"""search_experiments: filter and order_by -> one SELECT of experiment ids."""

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
from mltrail.store.search.grammar import (
    EXPERIMENTS,
    Clause,
    Comparator,
    Entity,
    OrderKey,
    ValueType,
)
from mltrail.store.search.parser import parse_filter, parse_order_by_list
from mltrail.store.search.sql_ops import exact_match

_experiments = schema.experiments
_tags = schema.experiment_tags


def experiment_search_query(
    *,
    filter_string: str,
    view_type: ViewType,
    order_by: Sequence[str],
    limit: int,
    offset: int,
    readable_by: tuple[int, int] | None = None,
) -> sa.Select[Any]:
    """SELECT experiments.experiment_id of the matching experiments, ordered and paged.

    ``readable_by`` is ``(user_id, default permission level)``: only experiments that user
    may read match (filtered inside the query, so pages stay full and tokens stay valid).

    Raises MalformedFilter for a filter or order_by clause that does not parse.
    """
    check_page(limit=limit, offset=offset)
    clauses = parse_filter(filter_string, vocabulary=EXPERIMENTS)
    order_keys = parse_order_by_list(order_by, vocabulary=EXPERIMENTS)

    conditions = [lifecycle_condition(_experiments.c.lifecycle_stage, view_type)]
    conditions.extend(_clause_condition(clause) for clause in clauses)
    if readable_by is not None:
        from mltrail.store.schema_auth import experiment_readable

        user_id, default_level = readable_by
        conditions.append(
            experiment_readable(
                _experiments.c.experiment_id, user_id=user_id, default_level=default_level
            )
        )

    source: sa.FromClause = _experiments
    sort: list[ColumnElement[Any]] = []
    for index, key in enumerate(order_keys):
        source, keys = _order(source, key, index)
        sort.extend(keys)
    if not order_keys:
        sort.append(_experiments.c.creation_time.desc())
    if (Entity.ATTRIBUTE, "experiment_id") not in {(k.entity, k.key) for k in order_keys}:
        sort.append(_experiments.c.experiment_id.asc())

    return (
        sa.select(_experiments.c.experiment_id)
        .select_from(source)
        .where(*conditions)
        .order_by(*sort)
        .limit(limit)
        .offset(offset)
    )


def _clause_condition(clause: Clause) -> ColumnElement[bool]:
    if clause.entity is Entity.ATTRIBUTE:
        column: ColumnElement[Any] = _experiments.c[clause.key]
        if EXPERIMENTS.attributes[clause.key].value_type is ValueType.STRING:
            return string_condition(column, clause)
        return numeric_condition(column, clause)

    has_key = sa.and_(
        _tags.c.experiment_id == _experiments.c.experiment_id,
        exact_match(_tags.c.key, clause.key),
    )
    if clause.comparator is Comparator.IS_NULL:
        return ~sa.exists().where(has_key)
    if clause.comparator is Comparator.IS_NOT_NULL:
        return sa.exists().where(has_key)
    return sa.exists().where(has_key, string_condition(_tags.c.value, clause))


def _order(
    source: sa.FromClause, key: OrderKey, index: int
) -> tuple[sa.FromClause, list[ColumnElement[Any]]]:
    if key.entity is Entity.ATTRIBUTE:
        column: ColumnElement[Any] = _experiments.c[key.key]
        spec = EXPERIMENTS.attributes[key.key]
        value = string_sort_value(column) if spec.value_type is ValueType.STRING else column
        return source, missing_last(column.is_not(None), value, ascending=key.ascending)

    table = _tags.alias(f"order_{index}")
    joined = source.outerjoin(
        table,
        sa.and_(
            table.c.experiment_id == _experiments.c.experiment_id,
            exact_match(table.c.key, key.key),
        ),
    )
    return joined, missing_last(
        table.c.experiment_id.is_not(None),
        string_sort_value(table.c.value),
        ascending=key.ascending,
    )
