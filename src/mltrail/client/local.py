"""The in-process backend: the tracking service (and the logged-model and registry services
beside it) over a SQL store, no server involved, built by the composition root.

The composition root is imported when the first local backend is opened, so that
``import mltrail`` (and any ``http://`` tracking URI) never loads SQLAlchemy.
"""

from __future__ import annotations

import threading

from mltrail.models_api import ModelsAPI
from mltrail.tracking_api import TrackingAPI
from mltrail.uris import TrackingTarget

_lock = threading.Lock()
_opened: dict[tuple[str, str], tuple[TrackingAPI, ModelsAPI]] = {}


def _open(target: TrackingTarget) -> tuple[TrackingAPI, ModelsAPI]:
    """The services over ``target``'s database, opened once per process and URI."""
    key = (target.db_uri, target.default_artifact_root)
    opened = _opened.get(key)
    if opened is not None:
        return opened
    with _lock:
        opened = _opened.get(key)
        if opened is None:
            # The one exception to "the client never imports the store": listed in the
            # import contract, and only here.
            from mltrail.composition import open_local

            opened = _opened[key] = open_local(target)
    return opened


def open_local_backend(target: TrackingTarget) -> TrackingAPI:
    return _open(target)[0]


def open_local_models(target: TrackingTarget) -> ModelsAPI:
    return _open(target)[1]


def clear_cache() -> None:
    """Forget opened backends (tests that delete their store folder call this)."""
    with _lock:
        _opened.clear()
