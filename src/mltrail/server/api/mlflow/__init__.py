"""The MLflow REST 2.0 adapter: MLflow's routes and shapes, translated to the service layer.

``install(app)`` mounts every MLflow route (tracking, logged models, registry, proxied
artifacts, server info, the web UI's own routes and ``/graphql``) under ``/api/2.0`` and
``/ajax-api/2.0`` (``/api/3.0`` for server info, the server root where MLflow serves a route
there). See ``routing`` for how a route is declared.
"""

from __future__ import annotations

import importlib

from fastapi import FastAPI

from mltrail.server.api.mlflow.routing import MlflowRouter, mount

# Modules that declare MLflow routes; each exposes ``router() -> MlflowRouter``.
_ROUTE_MODULES = (
    "experiments",
    "runs",
    "logging",
    "metric_history",
    "run_artifacts",
    "datasets",
    "graphql_route",
    "artifacts",
    "server_info",
    "logged_models",
    "registry",
)


def routers() -> list[MlflowRouter]:
    out: list[MlflowRouter] = []
    for name in _ROUTE_MODULES:
        full = f"{__name__}.{name}"
        try:
            module = importlib.import_module(full)
        except ModuleNotFoundError as exc:
            # A route group not written yet is simply absent (its paths answer 404).
            if exc.name == full:
                continue
            raise
        out.append(module.router())
    return out


def install(app: FastAPI) -> None:
    """Mount the MLflow-compatible routes on ``app`` (which carries ``app.state.services``)."""
    mount(app, routers())
