"""What the route handlers work with: the services wired by :func:`mltrail.server.app.create_app`.

Routers (the native API, the MLflow adapter, the UI) read ``request.app.state.services``
and never build stores themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from mltrail.config import Settings
from mltrail.tracking_api import TrackingAPI

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from starlette.applications import Starlette
    from starlette.requests import HTTPConnection

    from mltrail.service.artifacts import ArtifactService
    from mltrail.service.logged_models import LoggedModelService
    from mltrail.service.registry import RegistryService


@dataclass(frozen=True)
class Services:
    settings: Settings
    tracking: TrackingAPI
    # None when the server runs with --no-serve-artifacts.
    artifacts: ArtifactService | None
    engine: Engine
    logged_models: LoggedModelService
    registry: RegistryService
    # Where stored artifact locations and model sources may point (besides mlflow-artifacts:/);
    # checked when one is stored and again when the server reads from it.
    allowed_artifact_roots: tuple[str, ...] = ()


def services_of(conn: HTTPConnection) -> Services:
    """The services of the app serving ``conn`` (a request or a websocket)."""
    services: Services = conn.app.state.services
    return services


def models_services(app: Starlette) -> tuple[LoggedModelService, RegistryService]:
    """The app's logged-model and registry services (permission-checked when auth is on)."""
    services: Services = app.state.services
    return services.logged_models, services.registry
