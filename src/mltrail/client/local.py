"""The in-process backend: the tracking service (and the logged-model and registry services
beside it) over a SQL store, no server involved.

The service and the store are imported by name when the first local backend is opened,
so that ``import mltrail`` (and any ``http://`` tracking URI) never loads SQLAlchemy.
"""

from __future__ import annotations

import threading

from mltrail.models_api import ModelsAPI
from mltrail.tracking_api import TrackingAPI
from mltrail.uris import TrackingTarget

_lock = threading.Lock()
_backends: dict[tuple[str, str], TrackingAPI] = {}
_models: dict[tuple[str, str], ModelsAPI] = {}


def open_local_backend(target: TrackingTarget) -> TrackingAPI:
    """The service over ``target``'s database, opened once per process and URI."""
    key = (target.db_uri, target.default_artifact_root)
    backend = _backends.get(key)
    if backend is not None:
        return backend
    with _lock:
        backend = _backends.get(key)
        if backend is None:
            backend = _open(target)
            _backends[key] = backend
    return backend


def _open(target: TrackingTarget) -> TrackingAPI:
    if target.db_uri.startswith("sqlite:///"):
        # A folder store is created on first use, like MLflow's ./mlruns.
        from pathlib import Path

        Path(target.db_uri[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
    # Imported here, not at module level: `import mltrail` and http:// URIs must never
    # load SQLAlchemy. The import contract lists this function's imports as its only exception.
    from mltrail.service.tracking import TrackingService
    from mltrail.store.sql import open_store

    store = open_store(target.db_uri, default_artifact_root=target.default_artifact_root)
    return TrackingService(store=store)


def open_local_models(target: TrackingTarget) -> ModelsAPI:
    """The logged-model and registry services over ``target``'s database (opened once)."""
    key = (target.db_uri, target.default_artifact_root)
    models = _models.get(key)
    if models is not None:
        return models
    tracking = open_local_backend(target)
    with _lock:
        models = _models.get(key)
        if models is None:
            models = _open_models(tracking)
            _models[key] = models
    return models


def _open_models(tracking: TrackingAPI) -> ModelsAPI:
    # Lazy for the same reason as in _open; listed in the import contract too.
    from mltrail.service.logged_models import LoggedModelService
    from mltrail.service.models import ModelsService
    from mltrail.service.registry import RegistryService
    from mltrail.store.sql.logged_models import SqlLoggedModelStore
    from mltrail.store.sql.registry import SqlRegistryStore

    engine = tracking.store.engine  # type: ignore[attr-defined]
    logged = LoggedModelService(store=SqlLoggedModelStore(engine), tracking=tracking)
    registry = RegistryService(
        store=SqlRegistryStore(engine), tracking=tracking, logged_models=logged
    )
    return ModelsService(logged_models=logged, registry=registry)


def clear_cache() -> None:
    """Forget opened backends (tests that delete their store folder call this)."""
    with _lock:
        _backends.clear()
        _models.clear()
