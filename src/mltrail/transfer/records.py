"""What moves: plain records every source produces and every target consumes.

Sources translate their own format (MLflow's tables, its folders, its REST answers, a
snapshot) into these; targets write them. Ids are the source's: run ids and logged-model
ids are kept as they are, experiment ids are mapped by the import (see ``state``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mltrail.model_entities import LoggedModel, ModelVersion

ACTIVE = "active"
DELETED = "deleted"
# Run tags that hold mltrail's own record of a run's inputs and outputs (what MLflow keeps in
# its inputs tables); the MLflow adapter shows them as the run's ``inputs``/``outputs``.
INPUTS_TAG = "mltrail.inputs"
OUTPUTS_TAG = "mltrail.outputs"
# The size limit of a run tag value that the MLflow adapter also keeps to.
IO_TAG_BUDGET = 8000


@dataclass(frozen=True)
class ExperimentRecord:
    source_id: str
    name: str
    artifact_location: str
    lifecycle_stage: str = ACTIVE
    creation_time: int = 0
    last_update_time: int = 0
    deleted_time: int | None = None
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def deleted(self) -> bool:
        return self.lifecycle_stage == DELETED


@dataclass(frozen=True)
class DatasetInput:
    name: str
    digest: str
    source_type: str
    source: str
    schema: str | None = None
    profile: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "digest": self.digest,
            "source_type": self.source_type,
            "source": self.source,
        }
        if self.schema:
            out["schema"] = self.schema
        if self.profile:
            out["profile"] = self.profile
        out["tags"] = dict(self.tags)
        return out


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    experiment_id: str
    run_name: str
    user_id: str
    status: str
    start_time: int
    end_time: int | None
    lifecycle_stage: str
    artifact_uri: str
    deleted_time: int | None = None
    params: Mapping[str, str] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    datasets: tuple[DatasetInput, ...] = ()
    model_inputs: tuple[str, ...] = ()
    # (model_id, step)
    model_outputs: tuple[tuple[str, int], ...] = ()
    # What the source knows cheaply about the run's metrics (counts, sizes, latest values):
    # part of the fingerprint that tells a re-run whether the run changed.
    metrics_hint: str = ""

    @property
    def deleted(self) -> bool:
        return self.lifecycle_stage == DELETED

    def fingerprint(self) -> str:
        return digest(
            [
                self.run_name,
                self.user_id,
                self.status,
                self.start_time,
                self.end_time,
                self.lifecycle_stage,
                sorted(self.params.items()),
                sorted(self.tags.items()),
                [d.as_json() for d in self.datasets],
                list(self.model_inputs),
                [list(o) for o in self.model_outputs],
                self.metrics_hint,
            ]
        )

    def all_tags(self) -> dict[str, str]:
        """The tags as stored by mltrail: inputs and outputs become two JSON tags."""
        out = dict(self.tags)
        if self.datasets or self.model_inputs:
            out[INPUTS_TAG] = io_tag(
                {
                    "datasets": [d.as_json() for d in self.datasets],
                    "models": list(self.model_inputs),
                }
            )
        if self.model_outputs:
            out[OUTPUTS_TAG] = io_tag(
                {"models": [{"model_id": m, "step": s} for m, s in self.model_outputs]}
            )
        return out


def io_tag(value: dict[str, Any]) -> str:
    """JSON within the run-tag size, dropping bulky dataset fields first (as the adapter does)."""
    text = json.dumps(value, separators=(",", ":"))
    for bulky in ("profile", "schema"):
        if len(text) <= IO_TAG_BUDGET:
            break
        for entry in value.get("datasets", []):
            entry.pop(bulky, None)
        text = json.dumps(value, separators=(",", ":"))
    return text


@dataclass(frozen=True)
class RegisteredModelRecord:
    name: str
    creation_timestamp: int
    last_updated_timestamp: int
    description: str | None = None
    user_id: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    aliases: Mapping[str, int] = field(default_factory=dict)
    versions: tuple[ModelVersion, ...] = ()
    # The highest version number ever given (deleted ones count: numbers are never reused).
    last_version: int = 0

    def fingerprint(self) -> str:
        return digest(
            [
                self.description,
                sorted(self.tags.items()),
                sorted(self.aliases.items()),
                [
                    [
                        v.version,
                        v.current_stage,
                        v.description,
                        v.source,
                        v.status,
                        sorted(v.tags.items()),
                        v.last_updated_timestamp,
                    ]
                    for v in self.versions
                ],
                self.last_version,
            ]
        )


def model_fingerprint(model: LoggedModel) -> str:
    return digest(
        [
            model.name,
            model.status.value,
            model.lifecycle_stage,
            model.last_updated_timestamp,
            sorted(model.params.items()),
            sorted(model.tags.items()),
            [[m.key, repr(m.value), m.step, m.timestamp] for m in model.metrics],
        ]
    )


def digest(value: Any) -> str:
    raw = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha1(raw.encode("utf-8")).hexdigest()[:20]


@dataclass(frozen=True)
class ArtifactFile:
    """A file below an artifact location: its path relative to it and its size."""

    path: str
    size: int
