"""Built-in authentication and per-experiment / per-registered-model permissions.

:func:`install_auth` is called by ``create_app`` when the server runs with auth (the
default): it wraps the services in their permission-checking versions, adds the user,
token and permission routes (native and MLflow-compatible) and the login pages, and
installs the middleware that authenticates every request and enforces each route's rule.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from mltrail.errors import ConfigurationError

if TYPE_CHECKING:
    from fastapi import FastAPI

    from mltrail.config import Settings
    from mltrail.server.services import Services
    from mltrail.service.auth import AuthService
    from mltrail.service.permissions import PermissionService

BOOTSTRAP_ADMIN = "admin"


@dataclasses.dataclass(frozen=True)
class AuthState:
    auth: AuthService
    permissions: PermissionService


def auth_state(app: object) -> AuthState:
    state: AuthState = app.state.mltrail_auth  # type: ignore[attr-defined]
    return state


def open_auth(services: Services, settings: Settings) -> AuthState:
    from mltrail.service.auth import AuthService
    from mltrail.service.permissions import Level, PermissionService
    from mltrail.store.sql.auth import SqlAuthStore

    store = SqlAuthStore(services.engine)
    default = Level.parse(settings.default_permission or "NONE")
    return AuthState(
        auth=AuthService(store=store),
        permissions=PermissionService(store=store, default_level=default),
    )


def ensure_admin(state: AuthState, settings: Settings) -> None:
    """Refuse to serve without an admin; create one from MLTRAIL_ADMIN_PASSWORD if given."""
    if state.auth.has_admin():
        return
    if settings.admin_password:
        if state.auth.store.get_user(BOOTSTRAP_ADMIN) is None:
            state.auth.create_user(BOOTSTRAP_ADMIN, settings.admin_password, is_admin=True)
        else:
            state.auth.set_admin(BOOTSTRAP_ADMIN, is_admin=True)
        return
    raise ConfigurationError(
        "Authentication is on and the database has no admin user. Create one with\n"
        "    mltrail users create NAME --admin --backend-store-uri URI\n"
        "(or set MLTRAIL_ADMIN_PASSWORD to create the user 'admin' on first start), "
        "or run with --no-auth on a trusted network."
    )


def install_auth(app: FastAPI, services: Services) -> Services:
    """Wire authentication into ``app``; returns the permission-checked services."""
    from mltrail.server.app import build_model_services
    from mltrail.server.auth import api_v1, mlflow_api, pages
    from mltrail.server.auth.middleware import AuthMiddleware
    from mltrail.server.ui import views_account, views_admin, views_groups
    from mltrail.service.authorized import (
        AuthorizedArtifacts,
        AuthorizedLoggedModels,
        AuthorizedRegistry,
        AuthorizedTracking,
    )

    state = open_auth(services, services.settings)
    ensure_admin(state, services.settings)
    perms = state.permissions
    # Scripts that name no experiment log to the Default one: each user may use it
    # (unless an admin turned that off; the decision is kept).
    perms.share_default_experiment()
    tracking = AuthorizedTracking(services.tracking, permissions=perms)
    artifacts = (
        None
        if services.artifacts is None
        else AuthorizedArtifacts(services.artifacts, permissions=perms)
    )
    # The model services look runs and experiments up through the checked tracking service.
    logged, registry = build_model_services(
        engine=services.engine, tracking=tracking, allowed_roots=services.allowed_artifact_roots
    )
    checked = dataclasses.replace(
        services,
        tracking=tracking,
        artifacts=artifacts,  # type: ignore[arg-type]
        logged_models=AuthorizedLoggedModels(logged, permissions=perms),  # type: ignore[arg-type]
        registry=AuthorizedRegistry(registry, permissions=perms),  # type: ignore[arg-type]
    )
    app.state.services = checked
    _declare_framework_routes(app)
    app.state.mltrail_auth = state
    mlflow_api.install(app)
    app.include_router(api_v1.router)
    app.include_router(pages.router)
    app.include_router(views_account.router)
    app.include_router(views_admin.router)
    app.include_router(views_groups.router)
    app.add_middleware(AuthMiddleware, router=app.router, auth=state.auth)
    return checked


def _declare_framework_routes(app: FastAPI) -> None:
    """Rules for the routes FastAPI adds itself (the OpenAPI document)."""
    from mltrail.server.auth.rules import ACCESS_KEY

    for route in app.router.routes:
        if app.openapi_url and getattr(route, "path", None) == app.openapi_url:
            route.openapi_extra = {ACCESS_KEY: "authenticated"}  # type: ignore[attr-defined]
