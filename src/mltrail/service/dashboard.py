"""The dashboard's aggregate reads (run counts per experiment, column keys, runs with
registered versions), behind the same permission checks as the APIs when authentication is on
(see :class:`mltrail.service.authorized.dashboard.AuthorizedDashboard`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from mltrail.entities import ColumnKeys, ExperimentStats


class DashboardAPI(Protocol):
    def experiment_stats(self, experiment_ids: Sequence[str]) -> dict[str, ExperimentStats]: ...

    def column_keys(self, experiment_id: str) -> ColumnKeys: ...

    def model_version_runs(self, experiment_id: str, *, limit: int) -> list[str]: ...


class DashboardService:
    """The unchecked reads, straight from the store (it implements :class:`DashboardAPI`)."""

    def __init__(self, *, store: DashboardAPI) -> None:
        self.store = store

    def experiment_stats(self, experiment_ids: Sequence[str]) -> dict[str, ExperimentStats]:
        return self.store.experiment_stats(experiment_ids)

    def column_keys(self, experiment_id: str) -> ColumnKeys:
        return self.store.column_keys(experiment_id)

    def model_version_runs(self, experiment_id: str, *, limit: int) -> list[str]:
        return self.store.model_version_runs(experiment_id, limit=limit)
