"""Choosing the backend for a tracking URI: in-process SQL or a tracking server over HTTP.

Two protocols per URI: tracking (:func:`get_backend`) and logged models / registry
(:func:`get_models_backend`); over HTTP both share one session.
"""

from __future__ import annotations

import threading
from typing import cast

from mltrail.config import Settings, load_settings
from mltrail.models_api import ModelsAPI
from mltrail.tracking_api import TrackingAPI
from mltrail.uris import TrackingTarget, parse_tracking_uri

_lock = threading.Lock()
_rest_backends: dict[str, TrackingAPI] = {}
_rest_models: dict[str, ModelsAPI] = {}


def get_backend(uri: str, *, settings: Settings | None = None) -> TrackingAPI:
    """The backend for ``uri`` (already resolved), shared within the process."""
    target = parse_tracking_uri(uri)
    if target.kind == "rest":
        return _rest_backend(target, settings=settings)
    from mltrail.client.local import open_local_backend

    return open_local_backend(target)


def _rest_backend(target: TrackingTarget, *, settings: Settings | None) -> TrackingAPI:
    cached = _rest_backends.get(target.uri)
    if cached is not None and settings is None:
        return cached
    from mltrail.client.rest import RestBackend

    backend = RestBackend(target.uri, settings=settings or load_settings())
    if settings is None:
        with _lock:
            _rest_backends.setdefault(target.uri, backend)
    return backend


def get_models_backend(uri: str, *, settings: Settings | None = None) -> ModelsAPI:
    """The logged-model and registry backend for ``uri`` (already resolved), shared too."""
    target = parse_tracking_uri(uri)
    if target.kind != "rest":
        from mltrail.client.local import open_local_models

        return open_local_models(target)
    cached = _rest_models.get(target.uri)
    if cached is not None and settings is None:
        return cached
    from mltrail.client.rest import RestBackend
    from mltrail.client.rest_models import RestModels

    tracking = cast(RestBackend, _rest_backend(target, settings=settings))
    models: ModelsAPI = RestModels(tracking.http)
    if settings is None:
        with _lock:
            models = _rest_models.setdefault(target.uri, models)
    return models
