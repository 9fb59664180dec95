"""What the import writes to: an mltrail store, in-process (SQL) or over HTTP.

The SQL target writes in bulk inside transactions (``mltrail.store.sql.bulk``); the HTTP
target goes through the server's native API (``/api/v1``) with idempotency keys. Both keep
run ids and logged-model ids and give experiments ids of their own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from mltrail.artifacts.base import ArtifactStore
from mltrail.model_entities import LoggedModel
from mltrail.store.sql.metrics import Series
from mltrail.transfer.records import ExperimentRecord, RegisteredModelRecord, RunRecord
from mltrail.transfer.verify import Inventory


@dataclass(frozen=True)
class TargetExperiment:
    experiment_id: str
    name: str
    artifact_location: str
    lifecycle_stage: str


@dataclass(frozen=True)
class PendingRun:
    """A run to write: new ones whole, existing ones with the points they lack."""

    record: RunRecord
    experiment_id: str
    artifact_uri: str
    series: Mapping[str, Series]
    is_new: bool


@dataclass(frozen=True)
class InventoryScope:
    """What to describe: the imported experiments (target ids), runs, models and names."""

    experiment_ids: Sequence[str]
    run_ids: Sequence[str]
    model_ids: Sequence[str]
    registered_names: Sequence[str]
    # owner label ("run <id>" / "model <id>") -> artifact location in the target
    artifact_locations: Mapping[str, str]


class Target(Protocol):
    label: str
    # The database file of a local target (the import state file goes beside it).
    db_file: Path | None

    def experiments(self) -> list[TargetExperiment]: ...

    def create_experiment(
        self, record: ExperimentRecord, *, name: str, artifact_location: str | None
    ) -> TargetExperiment: ...

    def update_experiment(self, experiment: TargetExperiment, record: ExperimentRecord) -> None: ...

    def finish_experiment(self, experiment: TargetExperiment, record: ExperimentRecord) -> None:
        """Called once the experiment's runs and models are written (a target that can only
        write into active experiments deletes a deleted one now)."""
        ...

    def run_experiments(self, run_ids: Sequence[str]) -> dict[str, str]:
        """run_id -> target experiment id, for the runs that exist in the target."""
        ...

    def run_location(self, experiment: TargetExperiment, run_id: str) -> str:
        """Where a new run's artifacts go (the URI its row records)."""
        ...

    def model_location(self, experiment: TargetExperiment, model_id: str) -> str: ...

    def stored_series(self, run_id: str, keys: Iterable[str]) -> dict[str, Series]: ...

    def write_runs(self, batch: Sequence[PendingRun]) -> None:
        """Write the batch; on return it is durable (one transaction, or acknowledged)."""
        ...

    def existing_models(self, model_ids: Sequence[str]) -> set[str]: ...

    def write_logged_model(self, model: LoggedModel, *, is_new: bool) -> None: ...

    def registered_names(self) -> set[str]: ...

    def write_registered_model(self, model: RegisteredModelRecord) -> None: ...

    def artifacts(self, location: str) -> ArtifactStore:
        """The store rooted at an artifact location this target recorded."""
        ...

    def inventory(self, scope: InventoryScope) -> Inventory: ...

    def close(self) -> None: ...


def walk(store: ArtifactStore, path: str = "") -> dict[str, int]:
    """Every file below ``path`` of a store: relative path -> size."""
    out: dict[str, int] = {}
    for info in store.list(path):
        if info.is_dir:
            out.update(walk(store, info.path))
        else:
            out[info.path] = int(info.file_size or 0)
    return out
