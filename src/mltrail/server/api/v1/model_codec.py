"""JSON encoding of logged models, registered models and model versions for the native API."""

from __future__ import annotations

from typing import Any

from mltrail.model_entities import LoggedModel, ModelVersion, RegisteredModel
from mltrail.wire import float_out


def logged_model_out(model: LoggedModel) -> dict[str, Any]:
    return {
        "model_id": model.model_id,
        "experiment_id": model.experiment_id,
        "name": model.name,
        "artifact_location": model.artifact_location,
        "creation_timestamp": model.creation_timestamp,
        "last_updated_timestamp": model.last_updated_timestamp,
        "status": model.status.value,
        "status_message": model.status_message,
        "model_type": model.model_type,
        "source_run_id": model.source_run_id,
        "lifecycle_stage": model.lifecycle_stage,
        "tags": dict(model.tags),
        "params": dict(model.params),
        "metrics": [
            {
                "key": m.key,
                "value": float_out(m.value),
                "timestamp": m.timestamp,
                "step": m.step,
                "run_id": m.run_id,
                "model_id": m.model_id,
                "dataset_name": m.dataset_name,
                "dataset_digest": m.dataset_digest,
            }
            for m in model.metrics
        ],
    }


def model_version_out(version: ModelVersion) -> dict[str, Any]:
    return {
        "name": version.name,
        "version": version.version,
        "creation_timestamp": version.creation_timestamp,
        "last_updated_timestamp": version.last_updated_timestamp,
        "current_stage": version.current_stage,
        "description": version.description,
        "source": version.source,
        "storage_location": version.storage_location,
        "run_id": version.run_id,
        "run_link": version.run_link,
        "model_id": version.model_id,
        "user_id": version.user_id,
        "status": version.status,
        "status_message": version.status_message,
        "tags": dict(version.tags),
        "aliases": list(version.aliases),
    }


def registered_model_out(model: RegisteredModel) -> dict[str, Any]:
    return {
        "name": model.name,
        "creation_timestamp": model.creation_timestamp,
        "last_updated_timestamp": model.last_updated_timestamp,
        "description": model.description,
        "user_id": model.user_id,
        "tags": dict(model.tags),
        "aliases": dict(model.aliases),
        "latest_versions": [model_version_out(v) for v in model.latest_versions],
    }
