"""The tracking operations every backend offers.

One protocol, implemented by the service layer (in-process, over SQL) and by the
REST backend of the client (over HTTP), so the client's fluent API and
``TrackingClient`` work the same whatever the tracking URI is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from mltrail.entities import (
    Experiment,
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
from mltrail.wire import MetricColumns

__all__ = ["MetricColumns", "TrackingAPI"]


class TrackingAPI(Protocol):
    # -- experiments -------------------------------------------------------
    def create_experiment(
        self,
        name: str,
        *,
        artifact_location: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> str: ...

    def get_experiment(self, experiment_id: str) -> Experiment: ...

    def get_experiment_by_name(self, name: str) -> Experiment | None: ...

    def search_experiments(
        self,
        *,
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        filter_string: str = "",
        order_by: Sequence[str] = (),
        page_token: str | None = None,
    ) -> PagedList[Experiment]: ...

    def rename_experiment(self, experiment_id: str, *, new_name: str) -> None: ...

    def delete_experiment(self, experiment_id: str) -> None: ...

    def restore_experiment(self, experiment_id: str) -> None: ...

    def set_experiment_tag(self, experiment_id: str, *, key: str, value: str) -> None: ...

    def delete_experiment_tag(self, experiment_id: str, *, key: str) -> None: ...

    # -- runs --------------------------------------------------------------
    def create_run(
        self,
        experiment_id: str,
        *,
        start_time: int | None = None,
        tags: Mapping[str, str] | None = None,
        run_name: str | None = None,
        user_id: str | None = None,
        run_id: str | None = None,
    ) -> Run: ...

    def get_run(self, run_id: str) -> Run: ...

    def update_run(
        self,
        run_id: str,
        *,
        status: RunStatus | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
    ) -> RunInfo: ...

    def delete_run(self, run_id: str) -> None: ...

    def restore_run(self, run_id: str) -> None: ...

    def search_runs(
        self,
        experiment_ids: Sequence[str],
        *,
        filter_string: str = "",
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        order_by: Sequence[str] = (),
        page_token: str | None = None,
    ) -> PagedList[Run]: ...

    # -- logging -----------------------------------------------------------
    def log_batch(
        self,
        run_id: str,
        *,
        metrics: MetricColumns | None = None,
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
        idempotency_key: str | None = None,
    ) -> None:
        """Metric points (as columns per key, see :data:`mltrail.wire.MetricColumns`), params
        and tags of one run in one transaction; a retried ``idempotency_key`` is applied once."""
        ...

    def delete_tag(self, run_id: str, *, key: str) -> None: ...

    def get_metric_history(
        self,
        run_id: str,
        *,
        key: str,
        max_results: int | None = None,
        page_token: str | None = None,
    ) -> PagedList[Metric]: ...

    def get_metric_history_sampled(
        self,
        run_id: str,
        *,
        key: str,
        max_points: int,
        start_step: int | None = None,
        end_step: int | None = None,
    ) -> list[Metric]: ...

    def get_metric_summaries(self, run_id: str) -> list[MetricSummary]: ...

    def get_metric_summaries_of_runs(
        self, run_ids: Sequence[str]
    ) -> dict[str, list[MetricSummary]]:
        """Summaries of many runs at once (a page of search results); unknown ids map to []."""
        ...
