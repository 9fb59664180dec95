"""Whole runs for a page: info rows, then params and tags in one query, latest metrics in one.

A search selects the runs' own columns with its page, so a page of runs costs the search
and two more queries: a ``UNION ALL`` of the page's params and tags, and its metric
summaries (``get_run`` adds the query of the run's row). The summaries come whole (step,
timestamp, min, max, count), so the REST layer needs no further query for them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Unpack

import sqlalchemy as sa
from sqlalchemy import Connection, Row

from mltrail.entities import MetricSummary, Run, RunData, RunInfo
from mltrail.store.schema import metric_summaries, params, runs, tags
from mltrail.store.sql.metrics import decode_bound, decode_value

# Run ids per query: the UNION names the list twice, and SQLite builds older than 3.32
# allow 999 bound parameters per statement.
_PAGE_CHUNK = 450
_PARAM, _TAG = 0, 1

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


_IDS: sa.BindParameter[list[str]] = sa.bindparam("ids", expanding=True)


def _key_values(table: sa.Table, kind: int) -> sa.Select[Any]:
    return sa.select(
        table.c.run_id, sa.literal_column(str(kind)), table.c.key, table.c.value
    ).where(table.c.run_id.in_(_IDS))


# Two queries rather than one UNION of all three: padding params and tags to the seven
# columns of a summary (NULLs) made SQLite's work and the rows to read half as big again.
_PARAMS_AND_TAGS = sa.union_all(_key_values(params, _PARAM), _key_values(tags, _TAG))
_LATEST = sa.select(
    _ms.run_id,
    _ms.key,
    _ms.value,
    _ms.value_kind,
    _ms.step,
    _ms.timestamp,
    _ms.min_value,
    _ms.max_value,
    _ms["count"],
).where(_ms.run_id.in_(_IDS))


def runs_with_data(conn: Connection, infos: Sequence[RunInfo]) -> list[Run]:
    """The runs of ``infos`` (in that order) with their params, tags and latest metrics."""
    data: dict[str, tuple[dict[str, str], dict[str, str], list[MetricSummary]]] = {
        info.run_id: ({}, {}, []) for info in infos
    }
    unique = list(data)
    for start in range(0, len(unique), _PAGE_CHUNK):
        part = {"ids": unique[start : start + _PAGE_CHUNK]}
        for run_id, kind, key, text in conn.execute(_PARAMS_AND_TAGS, part).all():
            data[run_id][kind][key] = text
        for run_id, key, value, value_kind, step, stamp, low, high, count in conn.execute(
            _LATEST, part
        ).all():
            data[run_id][2].append(
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
