"""What the route handlers work with: the services the composition root built
(:func:`mltrail.composition.build_services`), kept on the app.

Routers (the native API, the MLflow adapter, the UI, the auth routes) read
``request.app.state.services`` and never build stores themselves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mltrail.composition import AuthState, Services

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.requests import HTTPConnection

    from mltrail.service.logged_models import LoggedModelService
    from mltrail.service.registry import RegistryService

__all__ = ["AuthState", "Services", "auth_state", "models_services", "services_of"]


def services_of(conn: HTTPConnection) -> Services:
    """The services of the app serving ``conn`` (a request or a websocket)."""
    services: Services = conn.app.state.services
    return services


def models_services(app: Starlette) -> tuple[LoggedModelService, RegistryService]:
    """The app's logged-model and registry services (permission-checked when auth is on)."""
    services: Services = app.state.services
    return services.logged_models, services.registry


def auth_state(app: object) -> AuthState:
    """Users, tokens and permissions of an app that serves with authentication."""
    state: AuthState | None = app.state.services.auth  # type: ignore[attr-defined]
    if state is None:
        raise RuntimeError("the server runs without authentication")
    return state
