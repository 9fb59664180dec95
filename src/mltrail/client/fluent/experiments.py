"""The fluent API's experiments: the active experiment, and experiments by id or name."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mltrail.client.fluent.state import STATE, current_backend, current_client, current_settings
from mltrail.entities import (
    Experiment,
    LifecycleStage,
)
from mltrail.errors import (
    InvalidParameterValue,
    InvalidState,
    ResourceAlreadyExists,
    ResourceDoesNotExist,
)
from mltrail.tracking_api import TrackingAPI

DEFAULT_EXPERIMENT_ID = "0"


def set_experiment(
    experiment_name: str | None = None, experiment_id: str | None = None
) -> Experiment:
    """Make an experiment active (by name, created when missing; or by id, which must exist)."""
    if (experiment_name is None) == (experiment_id is None):
        raise InvalidParameterValue(
            "Must specify exactly one of: `experiment_id` or `experiment_name`."
        )
    backend = current_backend()
    with STATE.lock:
        if experiment_id is None:
            experiment = _get_or_create_experiment(backend, str(experiment_name))
        else:
            try:
                experiment = backend.get_experiment(str(experiment_id))
            except ResourceDoesNotExist:
                raise ResourceDoesNotExist(
                    f"Experiment with ID '{experiment_id}' does not exist."
                ) from None
        if experiment.lifecycle_stage != LifecycleStage.ACTIVE.value:
            raise InvalidState(
                f"Cannot set a deleted experiment {experiment.name!r} as the active experiment. "
                "You can restore the experiment, or permanently delete the experiment to "
                "create a new one."
            )
        STATE.experiment_id = experiment.experiment_id
    return experiment


def _get_or_create_experiment(backend: TrackingAPI, name: str) -> Experiment:
    experiment = backend.get_experiment_by_name(name)
    if experiment is not None:
        return experiment
    try:
        return backend.get_experiment(backend.create_experiment(name))
    except ResourceAlreadyExists:
        # Another process created it between our lookup and our create.
        found = backend.get_experiment_by_name(name)
        if found is None:
            raise
        return found


def active_experiment_id() -> str:
    if STATE.experiment_id is not None:
        return STATE.experiment_id
    settings = current_settings()
    if settings.experiment_id:
        return settings.experiment_id
    if settings.experiment_name:
        return set_experiment(settings.experiment_name).experiment_id
    return DEFAULT_EXPERIMENT_ID


def create_experiment(
    name: str, artifact_location: str | None = None, tags: Mapping[str, Any] | None = None
) -> str:
    return current_client().create_experiment(name, artifact_location, tags)


def get_experiment(experiment_id: str) -> Experiment:
    return current_backend().get_experiment(str(experiment_id))


def get_experiment_by_name(name: str) -> Experiment | None:
    return current_backend().get_experiment_by_name(name)


def delete_experiment(experiment_id: str) -> None:
    current_backend().delete_experiment(str(experiment_id))


def set_experiment_tag(key: str, value: Any) -> None:
    current_backend().set_experiment_tag(active_experiment_id(), key=key, value=str(value))


def set_experiment_tags(tags: Mapping[str, Any]) -> None:
    for key, value in tags.items():
        set_experiment_tag(key, value)
