"""Whole runs for a page: info rows, then params, tags and latest metrics in one query.

A search selects the runs' own columns with its page, so a page of runs costs the search
and one more query: a ``UNION ALL`` of the page's params, tags and metric summaries
(``get_run`` adds the query of the run's row). The metric summaries come whole (step,
timestamp, min, max, count), so the REST layer needs no further query for them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Unpack

import sqlalchemy as sa
from sqlalchemy import Connection, Row
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal

from mltrail.entities import MetricSummary, Run, RunData, RunInfo
from mltrail.store.schema import Double, metric_summaries, params, runs, tags
from mltrail.store.sql.metrics import decode_bound, decode_value

# Run ids per query: the UNION names the list three times, and SQLite builds older than
# 3.32 allow 999 bound parameters per statement.
_PAGE_CHUNK = 300
_PARAM, _TAG, _METRIC = 0, 1, 2

_r = runs.c
_ms = metric_summaries.c
INFO_COLUMNS = (
    _r.run_id,
    _r.experiment_id,
    _r.run_name,
    _r.user_id,
    _r.status,
    _r.start_time,
    _r.end_time,
    _r.lifecycle_stage,
    _r.artifact_uri,
)


def info_of(row: Row[Unpack[tuple[Any, ...]]]) -> RunInfo:
    """A RunInfo from a row of INFO_COLUMNS (or of the whole runs table)."""
    return RunInfo(
        run_id=row.run_id,
        experiment_id=str(row.experiment_id),
        run_name=row.run_name,
        user_id=row.user_id,
        status=row.status,
        start_time=row.start_time,
        end_time=row.end_time,
        lifecycle_stage=row.lifecycle_stage,
        artifact_uri=row.artifact_uri,
    )


class _TypedNull(ColumnElement[Any]):
    """NULL of a given type in a UNION branch: PostgreSQL types a UNION pair by pair, and
    two untyped NULLs become text (then text against a number fails). MySQL/MariaDB cast
    to few types and type a UNION column from all branches: a plain NULL there."""

    _traverse_internals = [("type", InternalTraversal.dp_type)]

    def __init__(self, type_: sa.types.TypeEngine[Any]) -> None:
        self.type = type_


@compiles(_TypedNull)
def _typed_null(element: _TypedNull, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(NULL AS {compiler.dialect.type_compiler_instance.process(element.type)})"


@compiles(_TypedNull, "mysql")
@compiles(_TypedNull, "mariadb")
def _plain_null(element: _TypedNull, compiler: SQLCompiler, **kw: Any) -> str:
    return "NULL"


def _data_query() -> sa.CompoundSelect[Any]:
    ids: sa.BindParameter[list[str]] = sa.bindparam("ids", expanding=True)
    no_text = _TypedNull(sa.Text())
    no_number = _TypedNull(Double)
    no_integer = _TypedNull(sa.BigInteger())

    def key_values(table: sa.Table, kind: int) -> sa.Select[Any]:
        return sa.select(
            table.c.run_id,
            sa.literal_column(str(kind)),
            table.c.key,
            table.c.value,
            no_number,
            no_integer,
            no_integer,
            no_integer,
            no_number,
            no_number,
            no_integer,
        ).where(table.c.run_id.in_(ids))

    latest = sa.select(
        _ms.run_id,
        sa.literal_column(str(_METRIC)),
        _ms.key,
        no_text,
        _ms.value,
        _ms.value_kind,
        _ms.step,
        _ms.timestamp,
        _ms.min_value,
        _ms.max_value,
        _ms["count"],
    ).where(_ms.run_id.in_(ids))
    return sa.union_all(latest, key_values(params, _PARAM), key_values(tags, _TAG))


_DATA = _data_query()


def runs_with_data(conn: Connection, infos: Sequence[RunInfo]) -> list[Run]:
    """The runs of ``infos`` (in that order) with their params, tags and latest metrics."""
    data: dict[str, tuple[dict[str, str], dict[str, str], list[MetricSummary]]] = {
        info.run_id: ({}, {}, []) for info in infos
    }
    unique = list(data)
    for start in range(0, len(unique), _PAGE_CHUNK):
        rows = conn.execute(_DATA, {"ids": unique[start : start + _PAGE_CHUNK]})
        for run_id, kind, key, text, value, value_kind, step, stamp, low, high, count in rows:
            found = data[run_id]
            if kind == _PARAM:
                found[0][key] = text
            elif kind == _TAG:
                found[1][key] = text
            else:
                found[2].append(
                    MetricSummary(
                        key=key,
                        value=decode_value(value, value_kind),
                        timestamp=int(stamp),
                        step=int(step),
                        min=decode_bound(low),
                        max=decode_bound(high),
                        count=int(count),
                    )
                )
    out = []
    for info in infos:
        param_map, tag_map, summaries = data[info.run_id]
        summaries.sort(key=lambda s: s.key)
        out.append(
            Run(
                info=info,
                data=RunData(
                    metrics={s.key: s.value for s in summaries},
                    params=param_map,
                    tags=tag_map,
                    metric_summaries=tuple(summaries),
                ),
            )
        )
    return out


def load_runs(conn: Connection, run_ids: Sequence[str]) -> list[Run]:
    """Whole runs in the order of ``run_ids`` (unknown ids are skipped)."""
    if not run_ids:
        return []
    infos: dict[str, RunInfo] = {}
    unique = list(dict.fromkeys(run_ids))
    for start in range(0, len(unique), _PAGE_CHUNK):
        part = unique[start : start + _PAGE_CHUNK]
        for row in conn.execute(sa.select(*INFO_COLUMNS).where(_r.run_id.in_(part))):
            infos[row.run_id] = info_of(row)
    return runs_with_data(conn, [infos[rid] for rid in run_ids if rid in infos])
