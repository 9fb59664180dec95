"""The composition root: the one place that turns Settings into concrete stores and an app."""

from __future__ import annotations

import logging
import threading
from typing import Any

from fastapi import FastAPI
from sqlalchemy.exc import SQLAlchemyError

from mltrail.composition import Services, build_services
from mltrail.config import Settings, load_settings
from mltrail.errors import ConfigurationError
from mltrail.server import ui
from mltrail.server.api.v1 import PREFIX as V1_PREFIX
from mltrail.server.api.v1 import STREAMING_UPLOAD_PREFIXES, build_router
from mltrail.server.api.v1.schemas import BatchIn
from mltrail.server.cross_site import CrossSiteGuard
from mltrail.server.errors import install_error_handlers
from mltrail.server.logs import AccessLog, configure_logging
from mltrail.server.middleware import (
    BodyLimitMiddleware,
    HostAllowListMiddleware,
    PrefixMiddleware,
    default_allowed_hosts,
)
from mltrail.server.observability import (
    MetricsMiddleware,
    install_observability,
)
from mltrail.server.readiness import Readiness, install_readiness
from mltrail.version import __version__

# The MLflow adapter's artifact upload route streams too.
MLFLOW_UPLOAD_PREFIXES = (
    "/api/2.0/mlflow-artifacts/artifacts/",
    "/ajax-api/2.0/mlflow-artifacts/artifacts/",
    # The web UI's upload: raw file bytes (at most 10 MB, checked by the route).
    "/ajax-api/2.0/mlflow/upload-artifact",
)
_log = logging.getLogger("mltrail.server")


def start_stale_upload_cleanup(services: Services) -> threading.Thread | None:
    """Remove leftovers of uploads a killed server left in a local destination, in the
    background so that a large destination does not delay the start.

    Every server process starts this; the database-wide job lock lets one of them (per
    database) do the work while the others skip it.
    """
    destination = services.artifacts.destination if services.artifacts is not None else None
    cleanup = getattr(destination, "remove_stale_uploads", None)
    if cleanup is None:
        return None  # object stores keep no temporary objects (see docs/artifacts.md)
    seconds = services.settings.stale_upload_seconds

    def run() -> None:
        from mltrail.store.sql.locks import STALE_UPLOADS_JOB, job_lock

        try:
            with job_lock(services.engine, STALE_UPLOADS_JOB) as mine:
                if not mine:
                    _log.info("Another server process is removing interrupted uploads")
                    return
                removed = cleanup(older_than_seconds=seconds)
        except (OSError, SQLAlchemyError) as exc:
            _log.warning("Could not clean up interrupted uploads: %s", exc)
            return
        if removed:
            _log.info("Removed %d interrupted upload(s) older than %ss", len(removed), seconds)

    thread = threading.Thread(target=run, name="mltrail-stale-uploads", daemon=True)
    thread.start()
    return thread


def create_app(
    settings: Settings | None = None, *, background_jobs: bool = True, access_log: bool = False
) -> FastAPI:
    """The application; ``background_jobs=False`` builds it without starting the start-up
    cleanup (the multi-worker supervisor's settings check, whose app never serves);
    ``access_log=True`` writes the access log itself (the runner turns uvicorn's off)."""
    settings = settings if settings is not None else load_settings()
    services = build_services(settings)
    if services.auth is not None:
        from mltrail.server.auth import ensure_admin

        ensure_admin(services.auth, settings)
    if background_jobs:
        start_stale_upload_cleanup(services)
    app = FastAPI(
        title="mltrail",
        version=__version__,
        description="The mltrail tracking server: native JSON API under /api/v1.",
        # The interactive docs pages load their scripts from a CDN; servers are often offline.
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
        openapi_url=f"{V1_PREFIX}/openapi.json",
        # FastAPI's built-in OpenTelemetry checks the global providers on every request
        # (~30 us); the server reports through /metrics instead.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.services = services
    install_error_handlers(app)
    recorder = install_observability(app, multiprocess_dir=settings.metrics_dir or None)
    install_readiness(
        app,
        Readiness(
            engine=services.engine,
            settings=settings,
            artifact_root=services.artifacts.destination.root if services.artifacts else None,
        ),
    )
    app.include_router(build_router())
    _install_mlflow_adapter(app)
    app.include_router(ui.router())
    _document_hand_parsed_bodies(app)
    if not settings.no_auth:
        from mltrail.server.auth import install_auth

        # Innermost middleware: it sees the path after the prefix is stripped, and CORS
        # answers preflights before it.
        install_auth(app, services)

    # Added innermost first: the prefix is stripped before anything else looks at the path.
    if settings.cors_allowed_origins:
        from starlette.middleware.cors import CORSMiddleware

        origins = [o for o in settings.cors_allowed_origins if o.strip()]
        if "*" in origins:
            raise ConfigurationError("A wildcard CORS origin is not allowed; list the origins")
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "Range"],
        )
    streaming = STREAMING_UPLOAD_PREFIXES + MLFLOW_UPLOAD_PREFIXES
    app.add_middleware(
        CrossSiteGuard,
        allowed_origins=settings.cors_allowed_origins,
        binary_prefixes=streaming,
    )
    app.add_middleware(
        BodyLimitMiddleware, max_bytes=settings.max_request_bytes, streaming_prefixes=streaming
    )
    allowed_hosts = settings.allowed_hosts or default_allowed_hosts(
        settings.host, auth=not settings.no_auth
    )
    if allowed_hosts:
        app.add_middleware(HostAllowListMiddleware, allowed_hosts=allowed_hosts)
    app.add_middleware(
        MetricsMiddleware, metrics=recorder, access_log=AccessLog() if access_log else None
    )
    if settings.static_prefix:
        app.add_middleware(PrefixMiddleware, prefix=validate_static_prefix(settings.static_prefix))
    return app


def validate_static_prefix(prefix: str) -> str:
    if not prefix.startswith("/") or prefix.endswith("/") or "//" in prefix:
        raise ConfigurationError(
            f"--static-prefix {prefix!r} must start with '/' and not end with '/' (e.g. /mltrail)"
        )
    return prefix


def _install_mlflow_adapter(app: FastAPI) -> None:
    from mltrail.server.api import mlflow

    mlflow.install(app)


def _document_hand_parsed_bodies(app: FastAPI) -> None:
    """Add the models of bodies parsed by hand (the batch route) to the OpenAPI schema."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = original()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        extra = BatchIn.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(extra.pop("$defs", {}))
        components["BatchIn"] = extra
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def create_app_from_environment() -> FastAPI:
    """Factory for uvicorn worker processes: the settings come from ``MLTRAIL_*`` variables."""
    configure_logging()
    return create_app(load_settings())
