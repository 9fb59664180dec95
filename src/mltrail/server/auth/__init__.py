"""Built-in authentication and per-experiment / per-registered-model permissions.

:func:`install_auth` is called by ``create_app`` when the server runs with auth (the
default): it wraps the services in their permission-checking versions, adds the user,
token and permission routes (native and MLflow-compatible) and the login pages, and
installs the middleware that authenticates every request and enforces each route's rule.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from mltrail.errors import ConfigurationError, ResourceAlreadyExists

if TYPE_CHECKING:
    from fastapi import FastAPI

    from mltrail.composition import AuthState, Services
    from mltrail.config import Settings

BOOTSTRAP_ADMIN = "admin"


def ensure_admin(state: AuthState, settings: Settings) -> None:
    """Refuse to serve without an admin; create one from MLTRAIL_ADMIN_PASSWORD if given."""
    if state.auth.has_admin():
        return
    if settings.admin_password:
        if state.auth.store.get_user(BOOTSTRAP_ADMIN) is None:
            # Another replica starting at the same moment may create it first.
            with contextlib.suppress(ResourceAlreadyExists):
                state.auth.create_user(BOOTSTRAP_ADMIN, settings.admin_password, is_admin=True)
        state.auth.set_admin(BOOTSTRAP_ADMIN, is_admin=True)
        return
    raise ConfigurationError(
        "Authentication is on and the database has no admin user. Create one with\n"
        "    mltrail users create NAME --admin --backend-store-uri URI\n"
        "(or set MLTRAIL_ADMIN_PASSWORD to create the user 'admin' on first start), "
        "or run with --no-auth on a trusted network."
    )


def install_auth(app: FastAPI, services: Services) -> None:
    """Wire authentication into ``app``, whose ``services`` are the permission-checked ones."""
    from mltrail.server.auth import (
        api_v1,
        mlflow_api,
        pages,
        views_account,
        views_admin,
        views_groups,
    )
    from mltrail.server.auth.middleware import AuthMiddleware

    state = services.auth
    if state is None:
        raise ConfigurationError("install_auth needs services built with authentication")
    # Scripts that name no experiment log to the Default one: each user may use it
    # (unless an admin turned that off; the decision is kept).
    state.permissions.share_default_experiment()
    _declare_framework_routes(app)
    mlflow_api.install(app)
    app.include_router(api_v1.router)
    app.include_router(pages.router)
    app.include_router(views_account.router)
    app.include_router(views_admin.router)
    app.include_router(views_groups.router)
    app.add_middleware(
        AuthMiddleware,
        router=app.router,
        auth=state.auth,
        cache_seconds=services.settings.auth_cache_seconds,
    )


def _declare_framework_routes(app: FastAPI) -> None:
    """Rules for the routes FastAPI adds itself (the OpenAPI document)."""
    from mltrail.server.access import ACCESS_KEY

    for route in app.router.routes:
        if app.openapi_url and getattr(route, "path", None) == app.openapi_url:
            route.openapi_extra = {ACCESS_KEY: "authenticated"}  # type: ignore[attr-defined]
