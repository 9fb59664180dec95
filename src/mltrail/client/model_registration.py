"""``mltrail.register_model``: register a logged model (or a run's model folder) by URI."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mltrail.errors import ResourceAlreadyExists
from mltrail.model_entities import ModelVersion

if TYPE_CHECKING:
    from mltrail.client.tracking_client import TrackingClient


def register(
    client: TrackingClient,
    model_uri: str,
    name: str,
    *,
    run_id: str | None = None,
    tags: Mapping[str, Any] | None = None,
) -> ModelVersion:
    """Create the registered model ``name`` unless it exists, then a version from ``model_uri``.

    ``models:/<model_id>`` and ``runs:/<run>/<name>`` sources are linked to their logged
    model by the registry (the version gets its ``model_id`` and ``run_id``).
    """
    with contextlib.suppress(ResourceAlreadyExists):
        client.create_registered_model(name)
    if run_id is None and model_uri.startswith("runs:/"):
        run_id = model_uri[len("runs:/") :].lstrip("/").partition("/")[0] or None
    return client.create_model_version(name, model_uri, run_id=run_id, tags=tags)


def register_model(
    model_uri: str,
    name: str,
    await_registration_for: int = 300,
    *,
    tags: Mapping[str, Any] | None = None,
) -> ModelVersion:
    """Register the model at ``model_uri`` (``models:/<model_id>``, ``runs:/<run_id>/<name>``,
    ``models:/<name>/<version>`` or an artifact URI) as a new version of ``name``, creating
    the registered model if needed. Returns the new ModelVersion.

    Versions are ready at once; ``await_registration_for`` is kept for mlflow's signature.
    """
    from mltrail.client.tracking_client import TrackingClient

    del await_registration_for
    return register(TrackingClient(), model_uri, name, tags=tags)
