"""Logged models and the model registry: frozen values with MLflow's attribute names.

Kept apart from :mod:`mltrail.entities` because they form their own aggregate; like
that module this one is a leaf (no I/O, no imports of stores or clients).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from mltrail.errors import InvalidParameterValue


class LoggedModelStatus(str, enum.Enum):
    """MLflow's LoggedModelStatus; the proto numbers are the declaration order (0-3)."""

    UNSPECIFIED = "LOGGED_MODEL_STATUS_UNSPECIFIED"
    PENDING = "LOGGED_MODEL_PENDING"
    READY = "LOGGED_MODEL_READY"
    UPLOAD_FAILED = "LOGGED_MODEL_UPLOAD_FAILED"

    @classmethod
    def parse(cls, value: LoggedModelStatus | int | str) -> LoggedModelStatus:
        """Accept the enum, its wire name, its short name (``READY``) or its proto number."""
        if isinstance(value, cls):
            return value
        members = list(cls)
        if isinstance(value, int) and not isinstance(value, bool):
            if 0 <= value < len(members):
                return members[value]
        elif isinstance(value, str):
            text = value.strip().upper()
            if text.isdigit():
                return cls.parse(int(text))
            for member in members:
                if text in (member.value, member.name, f"LOGGED_MODEL_{member.name}"):
                    return member
        names = ", ".join(m.value for m in members[1:])
        raise InvalidParameterValue(
            f"Invalid logged model status {value!r}; expected one of {names}"
        )


class ModelVersionStage(str, enum.Enum):
    NONE = "None"
    STAGING = "Staging"
    PRODUCTION = "Production"
    ARCHIVED = "Archived"

    @classmethod
    def parse(cls, value: ModelVersionStage | str) -> ModelVersionStage:
        """Case-insensitive, as MLflow accepts it; the canonical spelling comes out."""
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            for member in cls:
                if value.strip().lower() == member.value.lower():
                    return member
        names = ", ".join(m.value for m in cls)
        raise InvalidParameterValue(
            f"Invalid model version stage {value!r}; expected one of {names}"
        )


class ModelVersionStatus(str, enum.Enum):
    PENDING_REGISTRATION = "PENDING_REGISTRATION"
    FAILED_REGISTRATION = "FAILED_REGISTRATION"
    READY = "READY"


@dataclass(frozen=True)
class LoggedModelMetric:
    """A metric value linked to a logged model (logged on a run with ``model_id`` set)."""

    key: str
    value: float
    timestamp: int
    step: int
    run_id: str | None = None
    model_id: str | None = None
    dataset_name: str | None = None
    dataset_digest: str | None = None


@dataclass(frozen=True)
class LoggedModel:
    model_id: str
    experiment_id: str
    name: str
    artifact_location: str
    creation_timestamp: int
    last_updated_timestamp: int
    status: LoggedModelStatus = LoggedModelStatus.PENDING
    status_message: str | None = None
    model_type: str | None = None
    source_run_id: str | None = None
    lifecycle_stage: str = "active"
    tags: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, str] = field(default_factory=dict)
    metrics: tuple[LoggedModelMetric, ...] = ()

    @property
    def artifact_uri(self) -> str:
        return self.artifact_location


@dataclass(frozen=True)
class ModelVersion:
    name: str
    version: int
    creation_timestamp: int
    last_updated_timestamp: int
    current_stage: str = ModelVersionStage.NONE.value
    description: str | None = None
    source: str = ""
    storage_location: str = ""
    run_id: str | None = None
    run_link: str | None = None
    model_id: str | None = None
    user_id: str | None = None
    status: str = ModelVersionStatus.READY.value
    status_message: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class RegisteredModel:
    name: str
    creation_timestamp: int
    last_updated_timestamp: int
    description: str | None = None
    user_id: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    # alias -> version number
    aliases: Mapping[str, int] = field(default_factory=dict)
    # newest version per stage
    latest_versions: tuple[ModelVersion, ...] = ()


@dataclass(frozen=True)
class DatasetScope:
    """Restricts logged-model metric filters and ordering to metrics of one dataset."""

    name: str
    digest: str | None = None


@dataclass(frozen=True)
class ModelOrder:
    """One ``order_by`` entry of a logged-model search (MLflow sends objects, not strings)."""

    field_name: str
    ascending: bool = True
    dataset_name: str | None = None
    dataset_digest: str | None = None
