"""The persistence operations the tracking service needs (implemented by ``store.sql``).

The store enforces what must hold inside one transaction (existence, the
'active' state of a run being written to, write-once params, idempotency keys,
atomic batches); the service validates input shapes and fills defaults before
calling it. Experiment ids cross this boundary as strings, like everywhere else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

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

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


class TrackingStore(Protocol):
    @property
    def default_artifact_root(self) -> str: ...

    # -- experiments -------------------------------------------------------
    def create_experiment(
        self,
        name: str,
        *,
        artifact_location: str | None,
        tags: Mapping[str, str],
        creation_time: int,
    ) -> str:
        """Insert an experiment; ``artifact_location=None`` means ``<root>/<id>``."""
        ...

    def get_experiment(self, experiment_id: str) -> Experiment: ...

    def get_experiment_by_name(self, name: str) -> Experiment | None: ...

    def search_experiments(
        self,
        *,
        view_type: ViewType,
        max_results: int,
        filter_string: str,
        order_by: Sequence[str],
        page_token: str | None,
        readable_by: tuple[int, int] | None = None,
    ) -> PagedList[Experiment]: ...

    def rename_experiment(self, experiment_id: str, *, new_name: str, update_time: int) -> None: ...

    def delete_experiment(self, experiment_id: str, *, deleted_time: int) -> None:
        """Soft-delete the experiment and all of its runs."""
        ...

    def restore_experiment(self, experiment_id: str, *, update_time: int) -> None: ...

    def set_experiment_tag(self, experiment_id: str, *, key: str, value: str) -> None: ...

    def delete_experiment_tag(self, experiment_id: str, *, key: str) -> None: ...

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
        """Insert a run; an existing ``run_id`` in the same experiment returns that run."""
        ...

    def get_run(self, run_id: str) -> Run: ...

    def update_run(
        self,
        run_id: str,
        *,
        status: RunStatus | None,
        end_time: int | None,
        run_name: str | None,
    ) -> RunInfo: ...

    def delete_run(self, run_id: str, *, deleted_time: int) -> None: ...

    def restore_run(self, run_id: str) -> None: ...

    def search_runs(
        self,
        experiment_ids: Sequence[str],
        *,
        filter_string: str,
        view_type: ViewType,
        max_results: int,
        order_by: Sequence[str],
        page_token: str | None,
    ) -> PagedList[Run]: ...

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
        """Apply the whole batch in one transaction (all or nothing, applied once per key);
        the metrics are validated and packed (steps, timestamps, values) per key."""
        ...

    def delete_tag(self, run_id: str, *, key: str) -> None: ...

    def get_metric_history(
        self,
        run_id: str,
        *,
        key: str,
        max_results: int | None,
        page_token: str | None,
    ) -> PagedList[Metric]: ...

    def get_metric_history_sampled(
        self,
        run_id: str,
        *,
        key: str,
        max_points: int,
        start_step: int | None,
        end_step: int | None,
    ) -> list[Metric]: ...

    def get_metric_summaries(self, run_id: str) -> list[MetricSummary]: ...

    def get_metric_summaries_of_runs(
        self, run_ids: Sequence[str]
    ) -> dict[str, list[MetricSummary]]: ...
