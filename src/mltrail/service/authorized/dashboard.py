"""The dashboard's aggregate reads, checked against experiment permissions."""

from __future__ import annotations

from collections.abc import Sequence

from mltrail.entities import ColumnKeys, ExperimentStats
from mltrail.service.authorized.principal import principal
from mltrail.service.dashboard import DashboardAPI
from mltrail.service.permissions import Level, PermissionService, parse_experiment_key


class AuthorizedDashboard:
    def __init__(self, inner: DashboardAPI, *, permissions: PermissionService) -> None:
        self.inner = inner
        self.permissions = permissions

    def experiment_stats(self, experiment_ids: Sequence[str]) -> dict[str, ExperimentStats]:
        who = principal()
        readable = [
            e
            for e in experiment_ids
            if (key := parse_experiment_key(e)) is not None
            and self.permissions.experiment_level(who, key) >= Level.READ
        ]
        return self.inner.experiment_stats(readable)

    def column_keys(self, experiment_id: str) -> ColumnKeys:
        self.permissions.require_experiment(principal(), experiment_id, Level.READ)
        return self.inner.column_keys(experiment_id)

    def model_version_runs(self, experiment_id: str, *, limit: int) -> list[str]:
        self.permissions.require_experiment(principal(), experiment_id, Level.READ)
        return self.inner.model_version_runs(experiment_id, limit=limit)
