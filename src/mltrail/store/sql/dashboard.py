"""Read-only aggregate queries the dashboard needs and the tracking API does not offer.

Run counts and last activity per experiment, the param/metric/tag keys seen in an experiment's
recent runs (to offer as columns), and the runs of an experiment that have registered model
versions. Each is a single indexed query, so they stay fast with 100,000 runs. The pages reach
them through :class:`mltrail.service.dashboard.DashboardService` (permission-checked under
authentication), never directly.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy import Engine

from mltrail.entities import ColumnKeys, ExperimentStats
from mltrail.store import schema
from mltrail.store.schema_models import model_versions

# Column keys are sampled from this many most recent runs.
KEY_SAMPLE_RUNS = 1000
MAX_KEYS = 500


class SqlDashboardStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def experiment_stats(self, experiment_ids: Sequence[str]) -> dict[str, ExperimentStats]:
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
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        stats: dict[str, ExperimentStats] = {}
        for exp_id, count, last_start, last_end in rows:
            last = max(v for v in (last_start, last_end, 0) if v is not None)
            stats[str(exp_id)] = ExperimentStats(int(count), int(last) or None)
        return stats

    def column_keys(self, experiment_id: str) -> ColumnKeys:
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
        with self.engine.connect() as conn:
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

    def model_version_runs(self, experiment_id: str, *, limit: int) -> list[str]:
        """Runs of the experiment that registered model versions were created from."""
        if not experiment_id.isdigit():
            return []
        query = (
            sa.select(model_versions.c.run_id)
            .join(schema.runs, schema.runs.c.run_id == model_versions.c.run_id)
            .where(schema.runs.c.experiment_id == int(experiment_id))
            .distinct()
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [str(r) for r in conn.execute(query).scalars()]
