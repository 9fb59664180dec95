"""The web dashboard: server-rendered pages, their static files and the JSON their scripts read.

:func:`router` is included by :func:`mltrail.server.app.create_app`. Pages live at ``/``,
``/experiments/{id}``, ``/runs/{run_id}``, ``/compare``, ``/models`` (and
``/experiments/{id}/models``, a logged model at ``/experiments/{id}/models/{model_id}``,
registry changes as form posts under ``/models/...``); static files at ``/static/``; the
data the page scripts fetch under ``/ui-api/``.
"""

from __future__ import annotations

from fastapi import APIRouter

__all__ = ["router"]


def router() -> APIRouter:
    from mltrail.server.ui import (
        api,
        static_files,
        views_compare,
        views_experiments,
        views_models,
        views_registry_actions,
        views_run,
        views_runs,
    )

    combined = APIRouter()
    combined.include_router(static_files.router)
    combined.include_router(api.router)
    combined.include_router(views_experiments.router)
    combined.include_router(views_runs.router)
    combined.include_router(views_run.router)
    combined.include_router(views_compare.router)
    combined.include_router(views_models.router)
    combined.include_router(views_registry_actions.router)
    return combined
