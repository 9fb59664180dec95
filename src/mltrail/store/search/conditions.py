"""Clause -> SQL condition pieces shared by the runs and the experiments compilers."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from mltrail.entities import LifecycleStage, ViewType
from mltrail.store.search.grammar import Clause, Comparator
from mltrail.store.search.sql_ops import (
    BinarySortKey,
    CaseSensitiveLike,
    case_insensitive_like,
    exact_in,
    exact_match,
    prefix_indexed_match,
)


def string_condition(
    column: ColumnElement[Any], clause: Clause, *, indexed_prefix: int | None = None
) -> ColumnElement[bool]:
    """``indexed_prefix``: the column has an index on its first that many characters
    (``=`` and ``IN`` then say so, for the planner to use it)."""
    value = clause.value
    op = clause.comparator

    def exact(values: list[str]) -> ColumnElement[bool]:
        if indexed_prefix is None:
            return exact_in(column, values)
        return prefix_indexed_match(column, values, prefix=indexed_prefix)

    if op in (Comparator.IN, Comparator.NOT_IN):
        assert isinstance(value, tuple)
        values = [str(v) for v in value]
        return exact(values) if op is Comparator.IN else sa.not_(exact_in(column, values))
    assert isinstance(value, str)
    if op is Comparator.EQ:
        return exact([value])
    if op is Comparator.NE:
        return sa.not_(exact_match(column, value))
    if op is Comparator.LIKE:
        return CaseSensitiveLike(column, value)
    if op is Comparator.ILIKE:
        return case_insensitive_like(column, value)
    raise AssertionError(f"comparator {op} reached the string compiler")


def numeric_condition(column: ColumnElement[Any], clause: Clause) -> ColumnElement[bool]:
    value = clause.value
    op = clause.comparator
    if op in (Comparator.IN, Comparator.NOT_IN):
        assert isinstance(value, tuple)
        matched = column.in_(list(value))
        return matched if op is Comparator.IN else column.not_in(list(value))
    assert isinstance(value, (int, float))
    if op is Comparator.EQ:
        return column == value
    if op is Comparator.NE:
        return column != value
    if op is Comparator.LT:
        return column < value
    if op is Comparator.LE:
        return column <= value
    if op is Comparator.GT:
        return column > value
    if op is Comparator.GE:
        return column >= value
    raise AssertionError(f"comparator {op} reached the numeric compiler")


def lifecycle_condition(column: ColumnElement[Any], view_type: ViewType) -> ColumnElement[bool]:
    view = ViewType.parse(view_type)
    if view is ViewType.ACTIVE_ONLY:
        return column == LifecycleStage.ACTIVE.value
    if view is ViewType.DELETED_ONLY:
        return column == LifecycleStage.DELETED.value
    return sa.true()


def missing_last(
    present: ColumnElement[bool], value: ColumnElement[Any], *, ascending: bool
) -> list[ColumnElement[Any]]:
    """Sort keys that put rows without a value after all others, in both directions."""
    rank = sa.case((present, 0), else_=1)
    return [rank.asc(), value.asc() if ascending else value.desc()]


def string_sort_value(column: ColumnElement[Any]) -> ColumnElement[Any]:
    return BinarySortKey(column)


def check_page(*, limit: int, offset: int) -> None:
    from mltrail.errors import InvalidParameterValue

    if limit < 0 or offset < 0:
        raise InvalidParameterValue(
            f"limit and offset must not be negative (got limit={limit}, offset={offset})"
        )
