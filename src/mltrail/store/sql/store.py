"""``SqlTrackingStore``: the TrackingStore over SQLAlchemy Core (SQLite, PostgreSQL, MySQL)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping, Sequence

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

from mltrail.entities import (
    Experiment,
    LifecycleStage,
    Metric,
    MetricSummary,
    PagedList,
    Param,
    Run,
    RunInfo,
    RunStatus,
    RunTag,
    ViewType,
)
from mltrail.errors import InvalidParameterValue
from mltrail.paging import decode_token, encode_token
from mltrail.store.sql import experiments as exps
from mltrail.store.sql import idempotency, metrics, search
from mltrail.store.sql import runs as runs_mod
from mltrail.store.sql.engine import read_connection, run_write
from mltrail.store.sql.metrics import FloatArray, IntArray


def _now_ms() -> int:
    return int(time.time() * 1000)


class SqlTrackingStore:
    """Tracking persistence on one SQL database. Thread-safe (one pooled engine)."""

    def __init__(self, engine: Engine, *, default_artifact_root: str) -> None:
        self.engine = engine
        self._default_root = default_artifact_root

    @property
    def default_artifact_root(self) -> str:
        return self._default_root

    def ensure_default_experiment(self) -> None:
        def work(conn: Connection) -> None:
            exps.ensure_default_experiment(conn, default_root=self._default_root, now=_now_ms())

        # Another process may create it at the same moment.
        with contextlib.suppress(IntegrityError):
            run_write(self.engine, work)

    def close(self) -> None:
        self.engine.dispose()

    # -- experiments -------------------------------------------------------
    def create_experiment(
        self,
        name: str,
        *,
        artifact_location: str | None,
        tags: Mapping[str, str],
        creation_time: int,
    ) -> str:
        return run_write(
            self.engine,
            lambda conn: exps.create_experiment(
                conn,
                name,
                artifact_location=artifact_location,
                tags=tags,
                creation_time=creation_time,
                default_root=self._default_root,
            ),
        )

    def get_experiment(self, experiment_id: str) -> Experiment:
        with read_connection(self.engine) as conn:
            return exps.get_experiment(conn, experiment_id)

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        with read_connection(self.engine) as conn:
            return exps.get_experiment_by_name(conn, name)

    def search_experiments(
        self,
        *,
        view_type: ViewType,
        max_results: int,
        filter_string: str,
        order_by: Sequence[str],
        page_token: str | None,
        readable_by: tuple[int, int] | None = None,
    ) -> PagedList[Experiment]:
        with read_connection(self.engine) as conn:
            return search.search_experiments(
                conn,
                view_type=view_type,
                max_results=max_results,
                filter_string=filter_string,
                order_by=order_by,
                page_token=page_token,
                readable_by=readable_by,
            )

    def rename_experiment(self, experiment_id: str, *, new_name: str, update_time: int) -> None:
        run_write(
            self.engine,
            lambda conn: exps.rename_experiment(
                conn, experiment_id, new_name=new_name, update_time=update_time
            ),
        )

    def delete_experiment(self, experiment_id: str, *, deleted_time: int) -> None:
        run_write(
            self.engine,
            lambda conn: exps.set_lifecycle(
                conn, experiment_id, stage=LifecycleStage.DELETED, time=deleted_time
            ),
        )

    def restore_experiment(self, experiment_id: str, *, update_time: int) -> None:
        run_write(
            self.engine,
            lambda conn: exps.set_lifecycle(
                conn, experiment_id, stage=LifecycleStage.ACTIVE, time=update_time
            ),
        )

    def set_experiment_tag(self, experiment_id: str, *, key: str, value: str) -> None:
        run_write(self.engine, lambda conn: exps.set_tag(conn, experiment_id, key=key, value=value))

    def delete_experiment_tag(self, experiment_id: str, *, key: str) -> None:
        run_write(self.engine, lambda conn: exps.delete_tag(conn, experiment_id, key=key))

    # -- runs --------------------------------------------------------------
    def create_run(
        self,
        experiment_id: str,
        *,
        run_id: str,
        run_name: str,
        user_id: str,
        start_time: int,
        tags: Mapping[str, str],
    ) -> Run:
        return run_write(
            self.engine,
            lambda conn: runs_mod.create_run(
                conn,
                experiment_id,
                run_id=run_id,
                run_name=run_name,
                user_id=user_id,
                start_time=start_time,
                tag_values=tags,
            ),
        )

    def get_run(self, run_id: str) -> Run:
        with read_connection(self.engine) as conn:
            return runs_mod.get_run(conn, run_id)

    def update_run(
        self,
        run_id: str,
        *,
        status: RunStatus | None,
        end_time: int | None,
        run_name: str | None,
    ) -> RunInfo:
        return run_write(
            self.engine,
            lambda conn: runs_mod.update_run(
                conn, run_id, status=status, end_time=end_time, run_name=run_name
            ),
        )

    def delete_run(self, run_id: str, *, deleted_time: int) -> None:
        run_write(
            self.engine,
            lambda conn: runs_mod.set_lifecycle(
                conn, run_id, stage=LifecycleStage.DELETED, time=deleted_time
            ),
        )

    def restore_run(self, run_id: str) -> None:
        run_write(
            self.engine,
            lambda conn: runs_mod.set_lifecycle(
                conn, run_id, stage=LifecycleStage.ACTIVE, time=None
            ),
        )

    def search_runs(
        self,
        experiment_ids: Sequence[str],
        *,
        filter_string: str,
        view_type: ViewType,
        max_results: int,
        order_by: Sequence[str],
        page_token: str | None,
    ) -> PagedList[Run]:
        with read_connection(self.engine) as conn:
            return search.search_runs(
                conn,
                experiment_ids,
                filter_string=filter_string,
                view_type=view_type,
                max_results=max_results,
                order_by=order_by,
                page_token=page_token,
            )

    # -- logging -----------------------------------------------------------
    def write_batch(
        self,
        run_id: str,
        *,
        columns: Mapping[str, tuple[IntArray, IntArray, FloatArray]],
        params: Sequence[Param],
        tags: Sequence[RunTag],
        idempotency_key: str | None,
    ) -> None:
        groups = {
            key: metrics.sorted_series(steps, stamps, values)
            for key, (steps, stamps, values) in columns.items()
        }
        self._write(run_id, groups, params, tags, idempotency_key)

    def _write(
        self,
        run_id: str,
        groups: dict[str, metrics.Series],
        params: Sequence[Param],
        tags: Sequence[RunTag],
        idempotency_key: str | None,
    ) -> None:
        """One batch in one transaction; the series are grouped and sorted before it starts."""
        param_values = _unique_params(params)
        tag_values = {t.key: t.value for t in tags}

        def work(conn: Connection) -> None:
            runs_mod.require_active(conn, run_id)
            if idempotency_key is not None and not idempotency.claim(
                conn, idempotency_key, kind="log_batch", now=_now_ms()
            ):
                return
            runs_mod.insert_params(conn, run_id, param_values)
            runs_mod.upsert_tags(conn, run_id, tag_values)
            metrics.append_series(conn, run_id, groups)

        run_write(self.engine, work)

    def delete_tag(self, run_id: str, *, key: str) -> None:
        run_write(self.engine, lambda conn: runs_mod.delete_tag(conn, run_id, key=key))

    def get_metric_history(
        self,
        run_id: str,
        *,
        key: str,
        max_results: int | None,
        page_token: str | None,
    ) -> PagedList[Metric]:
        offset = decode_token(page_token)
        with read_connection(self.engine) as conn:
            runs_mod.get_info(conn, run_id)
            series = metrics.read_series(conn, run_id, key)
        total = len(series)
        end = total if max_results is None else min(total, offset + max_results)
        if offset or end < total:
            series = series.take(slice(offset, end))
        token = encode_token(end) if end < total else None
        return PagedList(series.to_metrics(key), token)

    def get_metric_history_sampled(
        self,
        run_id: str,
        *,
        key: str,
        max_points: int,
        start_step: int | None,
        end_step: int | None,
    ) -> list[Metric]:
        with read_connection(self.engine) as conn:
            runs_mod.get_info(conn, run_id)
            series = metrics.read_series(
                conn, run_id, key, start_step=start_step, end_step=end_step
            )
        return metrics.downsample(series, max_points).to_metrics(key)

    def get_metric_summaries(self, run_id: str) -> list[MetricSummary]:
        with read_connection(self.engine) as conn:
            runs_mod.get_info(conn, run_id)
            return metrics.summaries(conn, run_id)

    def get_metric_summaries_of_runs(
        self, run_ids: Sequence[str]
    ) -> dict[str, list[MetricSummary]]:
        with read_connection(self.engine) as conn:
            return metrics.summaries_of_runs(conn, run_ids)


def _unique_params(params: Sequence[Param]) -> dict[str, str]:
    values: dict[str, str] = {}
    for p in params:
        if p.key in values and values[p.key] != p.value:
            raise InvalidParameterValue(
                f"Duplicate parameter keys have been submitted: '{p.key}' is logged twice "
                "with different values in one batch."
            )
        values[p.key] = p.value
    return values
