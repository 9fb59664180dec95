"""Choosing the backend for a tracking URI: in-process SQL or a tracking server over HTTP."""

from __future__ import annotations

import threading

from mltrail.client.uris import TrackingTarget, parse_tracking_uri
from mltrail.config import Settings, load_settings
from mltrail.tracking_api import TrackingAPI

_lock = threading.Lock()
_rest_backends: dict[str, TrackingAPI] = {}


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
