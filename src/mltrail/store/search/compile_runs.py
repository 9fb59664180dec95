"""search_runs: filter and order_by -> one SELECT of run ids.

A metric, param or tag clause becomes an inner JOIN of that table on ``(run_id, key)``
with the clause's value test in the ON condition; clauses on the same key share one
join. ``(run_id, key)`` is the primary key of the three tables, so a join adds at most
one row per run and means exactly what ``EXISTS`` would (a run without the key never
matches, not even ``!=``), while the database may start from whichever side is
selective: the experiment's runs (``ix_runs_experiment_start``), a param or tag value
(``ix_params_key_value``, ``ix_tags_key_value``) or a metric range
(``ix_metric_summaries_key_value``). A correlated ``EXISTS`` per run always started
from the runs and cost a lookup per filter and run of the experiment. ``IS NULL``
stays ``NOT EXISTS``.

PostgreSQL and MySQL/MariaDB choose the join order themselves, from statistics that
know how many rows one experiment or one value has. SQLite's statistics (when there
are any) only know averages, so the store counts, with one bounded query
(:meth:`RunSearch.probe`), how many runs the experiments hold and how many rows each
filter matches, and fixes the order (:meth:`RunSearch.query` ``first=``): the smallest
side is the outer loop (SQLite keeps the order of a ``CROSS JOIN``). A filter that
matches many runs of other experiments therefore never drives the search of a small
experiment.

Ordering by a metric, param or tag LEFT JOINs that one (run_id, key) row, so a run
appears once; runs without the key sort last in both directions, and NaN metrics sort
after every number (infinities sort as the largest/smallest numbers). When the filter
already joins that key, the order reuses the join and drops the sort terms that are
constant there (every row has the key; a compared metric is never NaN), so an index on
the key's values can serve the order.

The tiebreak after the requested keys is MLflow's (``_get_orderby_clauses`` of its SQL
store): start_time DESC unless start_time was requested, then run_id ascending, so that
equal start times page in the same order on both servers.
"""

from __future__ import annotations

import functools
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
from mltrail.store.search.sql_ops import OrderedJoin, exact_match

_runs = schema.runs
_KEY_TABLES = {
    Entity.METRIC: schema.metric_summaries,
    Entity.PARAM: schema.params,
    Entity.TAG: schema.tags,
}
# The name of the runs table in probe results and in ``first=``.
RUNS_FIRST = "runs"


def run_search_query(
    *,
    experiment_ids: Sequence[int],
    filter_string: str,
    view_type: ViewType,
    order_by: Sequence[str],
    limit: int,
    offset: int,
) -> sa.Select[Any]:
    """SELECT runs.run_id of the matching runs, ordered and paged (join order: the planner's).

    Raises MalformedFilter for a filter or order_by clause that does not parse.
    """
    search = RunSearch(
        experiment_ids=experiment_ids,
        filter_string=filter_string,
        view_type=view_type,
        order_by=order_by,
    )
    return search.query(limit=limit, offset=offset)


class RunSearch:
    """A parsed runs search: the SELECT of its page, and the probe that picks a join order."""

    def __init__(
        self,
        *,
        experiment_ids: Sequence[int],
        filter_string: str,
        view_type: ViewType,
        order_by: Sequence[str],
    ) -> None:
        clauses = parse_filter(filter_string, vocabulary=RUNS)
        self.order_keys = parse_order_by_list(order_by, vocabulary=RUNS)
        self.experiment_ids = [int(i) for i in experiment_ids]
        self.run_conditions: list[ColumnElement[bool]] = [
            _runs.c.experiment_id.in_(self.experiment_ids),
            lifecycle_condition(_runs.c.lifecycle_stage, view_type),
        ]
        self.joins: dict[tuple[Entity, str], _KeyJoin] = {}
        for clause in clauses:
            if clause.entity is Entity.ATTRIBUTE:
                self.run_conditions.append(_attribute_condition(clause))
            elif clause.comparator is Comparator.IS_NULL:
                table = _KEY_TABLES[clause.entity]
                self.run_conditions.append(~sa.exists().where(_has_key(table, clause.key)))
            else:
                name = (clause.entity, clause.key)
                if name not in self.joins:
                    self.joins[name] = _KeyJoin(clause.entity, clause.key, len(self.joins))
                self.joins[name].add(clause)

    def probe(self, *, cap: int) -> sa.Select[Any] | None:
        """One row: how many runs the experiments hold (counted up to ``cap``) and how
        many rows each filter join may match in any experiment (an upper bound read from
        its index alone, counted up to the runs' count: past it, the filter cannot be
        the smaller side), labelled ``runs`` and ``has_<n>``. None when there is no
        filter join to weigh against the runs."""
        if not self.joins:
            return None

        def bounded(source: sa.FromClause, where: list[ColumnElement[bool]], limit: Any) -> Any:
            rows = sa.select(sa.literal(1)).select_from(source).where(*where).limit(limit)
            return sa.select(sa.func.count()).select_from(rows.subquery())

        # A CTE: counted once, read by every filter's LIMIT.
        runs = bounded(_runs, [_runs.c.experiment_id.in_(self.experiment_ids)], cap)
        runs_count = runs.cte("runs_count")
        counted = sa.select(runs_count.c[0]).scalar_subquery()
        columns = [counted.label(RUNS_FIRST)]
        columns.extend(
            bounded(join.table, join.probe_conditions(), counted).scalar_subquery().label(join.name)
            for join in self.joins.values()
        )
        return sa.select(*columns)

    def ordered_side(self) -> str | None:
        """The side whose index already yields rows in the requested order, if any: the
        runs of one experiment (``ix_runs_experiment_start``) for the default order or
        start_time, or a compared metric filter ordered by that metric (``has_<n>``).
        A search that starts there can stop once its page is full."""
        if not self.order_keys:
            return RUNS_FIRST if len(self.experiment_ids) == 1 else None
        lead = self.order_keys[0]
        if lead.entity is Entity.ATTRIBUTE:
            single = len(self.experiment_ids) == 1
            return RUNS_FIRST if lead.key == "start_time" and single else None
        joined = self.joins.get((lead.entity, lead.key))
        if joined is not None and joined.entity is Entity.METRIC and joined.compared:
            return joined.name
        return None

    def query(
        self,
        *,
        limit: int,
        offset: int,
        first: str | None = None,
        columns: Sequence[ColumnElement[Any]] = (_runs.c.run_id,),
    ) -> sa.Select[Any]:
        """The page's ``columns`` of the runs table (its run ids by default). ``first``
        names the outer loop (``runs`` or a filter join's ``has_<n>``) on databases that
        keep a written join order; None leaves it to the planner."""
        check_page(limit=limit, offset=offset)
        source = self._filtered_source(first)
        sort: list[ColumnElement[Any]] = []
        for index, key in enumerate(self.order_keys):
            source, keys = _order(source, key, index, self.joins.get((key.entity, key.key)))
            sort.extend(keys)
        named = {(k.entity, k.key) for k in self.order_keys}
        if (Entity.ATTRIBUTE, "start_time") not in named:
            sort.append(_runs.c.start_time.desc())
        if (Entity.ATTRIBUTE, "run_id") not in named:
            sort.append(_runs.c.run_id.asc())
        return (
            sa.select(*columns)
            .select_from(source)
            .where(*self.run_conditions)
            .order_by(*sort)
            .limit(limit)
            .offset(offset)
        )

    def _filtered_source(self, first: str | None) -> sa.FromClause:
        joins = list(self.joins.values())
        if first is None:
            source: sa.FromClause = _runs
            for join in joins:
                source = source.join(join.table, join.on_clause())
            return source
        driver = next((j for j in joins if j.name == first), None)
        if driver is None:
            if first != RUNS_FIRST:
                raise ValueError(f"no filter join named {first!r}")
            source = _runs
        else:
            source = OrderedJoin(driver.table, _runs, driver.on_clause())
        for join in joins:
            if join is not driver:
                source = OrderedJoin(source, join.table, join.on_clause())
        return source


class _KeyJoin:
    """The inner join of one (entity, key) row per run, with the value tests of its clauses."""

    def __init__(self, entity: Entity, key: str, index: int) -> None:
        self.entity = entity
        self.key = key
        self.name = f"has_{index}"
        self.table = _alias(entity, self.name)
        self.tests: list[ColumnElement[bool]] = []
        # The tests that the (key, value) index answers alone: what the probe counts.
        self.index_tests: list[ColumnElement[bool]] = []
        # A compared metric value is never NaN (stored as NULL, it fails every comparison).
        self.compared = False

    def add(self, clause: Clause) -> None:
        if clause.comparator is Comparator.IS_NOT_NULL:
            return
        self.compared = True
        value = self.table.c.value
        if self.entity is Entity.METRIC:
            self.tests.append(numeric_condition(value, clause))
            self.index_tests.append(self.tests[-1])
            return
        self.tests.append(string_condition(value, clause, indexed_prefix=schema.VALUE_PREFIX))
        if clause.comparator in (Comparator.EQ, Comparator.IN):
            # The value's indexed prefix: a count from the index alone, an upper bound.
            values = clause.value if isinstance(clause.value, tuple) else (clause.value,)
            heads = sorted({str(v)[: schema.VALUE_PREFIX] for v in values})
            self.index_tests.append(schema.value_prefix(value).in_(heads))

    def probe_conditions(self) -> list[ColumnElement[bool]]:
        return [exact_match(self.table.c.key, self.key), *self.index_tests]

    def on_clause(self) -> ColumnElement[bool]:
        return sa.and_(
            self.table.c.run_id == _runs.c.run_id,
            exact_match(self.table.c.key, self.key),
            *self.tests,
        )


@functools.cache
def _alias(entity: Entity, name: str) -> sa.FromClause:
    """One alias object per (table, name), reused by every search: building an alias's
    column collection costs more than the rest of a search's statement."""
    return _KEY_TABLES[entity].alias(name)


def _has_key(table: sa.FromClause, key: str) -> ColumnElement[bool]:
    return sa.and_(table.c.run_id == _runs.c.run_id, exact_match(table.c.key, key))


def _attribute_column(key: str) -> ColumnElement[Any]:
    if key == "duration":
        return _runs.c.end_time - _runs.c.start_time
    column: ColumnElement[Any] = _runs.c[key]
    return column


def _attribute_condition(clause: Clause) -> ColumnElement[bool]:
    column = _attribute_column(clause.key)
    spec = RUNS.attributes[clause.key]
    if spec.value_type is ValueType.STRING:
        return string_condition(column, clause)
    return numeric_condition(column, clause)


def _order(
    source: sa.FromClause, key: OrderKey, index: int, joined: _KeyJoin | None
) -> tuple[sa.FromClause, list[ColumnElement[Any]]]:
    if key.entity is Entity.ATTRIBUTE:
        column = _attribute_column(key.key)
        spec = RUNS.attributes[key.key]
        value = string_sort_value(column) if spec.value_type is ValueType.STRING else column
        return source, missing_last(column.is_not(None), value, ascending=key.ascending)

    if joined is not None:
        # Every row has the key: no "missing last" rank.
        return source, _present_order(joined, ascending=key.ascending)
    table = _alias(key.entity, f"order_{index}")
    source = source.outerjoin(table, _has_key(table, key.key))
    if key.entity is Entity.METRIC:
        rank = sa.case(
            (table.c.run_id.is_(None), 2),
            (table.c.value_kind == schema.NAN, 1),
            else_=0,
        )
        return source, [rank.asc(), _direction(table.c.value, ascending=key.ascending)]
    return source, missing_last(
        table.c.run_id.is_not(None), string_sort_value(table.c.value), ascending=key.ascending
    )


def _present_order(joined: _KeyJoin, *, ascending: bool) -> list[ColumnElement[Any]]:
    value = joined.table.c.value
    if joined.entity is not Entity.METRIC:
        return [_direction(string_sort_value(value), ascending=ascending)]
    if joined.compared:
        return [_direction(value, ascending=ascending)]
    nan_last = sa.case((joined.table.c.value_kind == schema.NAN, 1), else_=0)
    return [nan_last.asc(), _direction(value, ascending=ascending)]


def _direction(value: ColumnElement[Any], *, ascending: bool) -> ColumnElement[Any]:
    return value.asc() if ascending else value.desc()
