"""Read-only aggregate queries the pages need and the tracking API does not offer.

Run counts and last activity per experiment, and the param/metric/tag keys seen in an
experiment's recent runs (to offer as columns). Both are single indexed queries, so they stay
fast with 100,000 runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import Engine

from mltrail.store import schema

# Column keys are sampled from this many most recent runs.
KEY_SAMPLE_RUNS = 1000
MAX_KEYS = 500


@dataclass(frozen=True)
class ExperimentStats:
    run_count: int
    last_activity: int | None


def experiment_stats(engine: Engine, experiment_ids: Sequence[str]) -> dict[str, ExperimentStats]:
    ids = [int(e) for e in experiment_ids if e.isdigit()]
    if not ids:
        return {}
    runs = schema.runs
    query = (
        sa.select(
            runs.c.experiment_id,
            sa.func.count(),
            sa.func.max(runs.c.start_time),
            sa.func.max(runs.c.end_time),
        )
        .where(runs.c.experiment_id.in_(ids), runs.c.lifecycle_stage == "active")
        .group_by(runs.c.experiment_id)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    stats: dict[str, ExperimentStats] = {}
    for exp_id, count, last_start, last_end in rows:
        last = max(v for v in (last_start, last_end, 0) if v is not None)
        stats[str(exp_id)] = ExperimentStats(int(count), int(last) or None)
    return stats


@dataclass(frozen=True)
class ColumnKeys:
    params: list[str]
    metrics: list[str]
    tags: list[str]


def column_keys(engine: Engine, experiment_id: str) -> ColumnKeys:
    if not experiment_id.isdigit():
        return ColumnKeys([], [], [])
    runs = schema.runs
    recent = (
        sa.select(runs.c.run_id)
        .where(runs.c.experiment_id == int(experiment_id))
        .order_by(runs.c.start_time.desc())
        .limit(KEY_SAMPLE_RUNS)
        .scalar_subquery()
    )
    result: dict[str, list[str]] = {}
    with engine.connect() as conn:
        for name, table in (
            ("params", schema.params),
            ("metrics", schema.metric_summaries),
            ("tags", schema.tags),
        ):
            query = (
                sa.select(table.c.key)
                .where(table.c.run_id.in_(recent))
                .distinct()
                .order_by(table.c.key)
                .limit(MAX_KEYS)
            )
            result[name] = [str(k) for k in conn.execute(query).scalars()]
    return ColumnKeys(result["params"], result["metrics"], result["tags"])
