"""The objects mltrail hands out: frozen dataclasses with MLflow's attribute names.

They are plain values: no I/O, no references to stores or clients, so every layer
can import them.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")


class LifecycleStage(str, enum.Enum):
    ACTIVE = "active"
    DELETED = "deleted"


class ViewType(enum.IntEnum):
    """Which lifecycle stages a search returns (MLflow's numbering)."""

    ACTIVE_ONLY = 1
    DELETED_ONLY = 2
    ALL = 3

    @classmethod
    def parse(cls, value: ViewType | int | str | None) -> ViewType:
        if value is None:
            return cls.ACTIVE_ONLY
        if isinstance(value, cls):
            return value
        if isinstance(value, int):
            return cls(value)
        return cls[str(value).upper()]


class RunStatus(str, enum.Enum):
    RUNNING = "RUNNING"
    SCHEDULED = "SCHEDULED"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"

    @property
    def is_terminated(self) -> bool:
        return self in (RunStatus.FINISHED, RunStatus.FAILED, RunStatus.KILLED)

    @classmethod
    def parse(cls, value: RunStatus | int | str) -> RunStatus:
        """Accept the enum, its name, or MLflow's proto number (1-5)."""
        if isinstance(value, cls):
            return value
        if isinstance(value, int):
            return list(cls)[value - 1]
        return cls[str(value).upper()]


@dataclass(frozen=True)
class Metric:
    key: str
    value: float
    timestamp: int
    step: int = 0


@dataclass(frozen=True)
class Param:
    key: str
    value: str


@dataclass(frozen=True)
class RunTag:
    key: str
    value: str


@dataclass(frozen=True)
class ExperimentTag:
    key: str
    value: str


@dataclass(frozen=True)
class MetricSummary:
    """The per-(run, key) summary: latest value (MLflow's rule) plus min, max and count."""

    key: str
    value: float
    timestamp: int
    step: int
    min: float | None
    max: float | None
    count: int


@dataclass(frozen=True)
class Experiment:
    experiment_id: str
    name: str
    artifact_location: str
    lifecycle_stage: str = LifecycleStage.ACTIVE.value
    tags: dict[str, str] = field(default_factory=dict)
    creation_time: int | None = None
    last_update_time: int | None = None


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    experiment_id: str
    run_name: str
    user_id: str
    status: str
    start_time: int
    end_time: int | None
    lifecycle_stage: str
    artifact_uri: str

    @property
    def run_uuid(self) -> str:
        return self.run_id


@dataclass(frozen=True)
class RunData:
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    # ``metrics`` with each value's step, timestamp, min, max and count, sorted by key,
    # when the store read them with the run (the SQL store does); empty otherwise. It
    # repeats ``metrics``, so it takes no part in equality.
    metric_summaries: tuple[MetricSummary, ...] = field(default=(), compare=False, repr=False)


@dataclass(frozen=True)
class Run:
    info: RunInfo
    data: RunData = field(default_factory=RunData)


@dataclass(frozen=True)
class FileInfo:
    path: str
    is_dir: bool
    file_size: int | None = None


class PagedList(list[T], Generic[T]):
    """A page of results; ``token`` fetches the next page and is None on the last one."""

    def __init__(self, items: Iterable[T] = (), token: str | None = None) -> None:
        super().__init__(items)
        self.token = token


@dataclass(frozen=True)
class ExperimentStats:
    """What the experiments page shows beside each experiment."""

    run_count: int
    last_activity: int | None


@dataclass(frozen=True)
class ColumnKeys:
    """The param, metric and tag keys seen in an experiment's recent runs (offered as columns)."""

    params: list[str]
    metrics: list[str]
    tags: list[str]
