"""The composition root: the one place that turns Settings into concrete stores and an app."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from fastapi import FastAPI

from mltrail.config import Settings, load_settings
from mltrail.errors import ConfigurationError
from mltrail.server import ui
from mltrail.server.api.v1 import PREFIX as V1_PREFIX
from mltrail.server.api.v1 import STREAMING_UPLOAD_PREFIXES, build_router
from mltrail.server.api.v1.schemas import BatchIn
from mltrail.server.cross_site import CrossSiteGuard
from mltrail.server.errors import install_error_handlers
from mltrail.server.logs import configure_logging
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
from mltrail.server.services import Services
from mltrail.tracking_api import TrackingAPI
from mltrail.version import __version__

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from mltrail.service.logged_models import LoggedModelService
    from mltrail.service.registry import RegistryService

PROXY_ARTIFACT_ROOT = "mlflow-artifacts:/"
PROXIED_SCHEMES = ("mlflow-artifacts", "mltrail-artifacts")
# The MLflow adapter's artifact upload route streams too.
MLFLOW_UPLOAD_PREFIXES = (
    "/api/2.0/mlflow-artifacts/artifacts/",
    "/ajax-api/2.0/mlflow-artifacts/artifacts/",
    # The web UI's upload: raw file bytes (at most 10 MB, checked by the route).
    "/ajax-api/2.0/mlflow/upload-artifact",
)
DEFAULT_SERVED_ARTIFACTS_DIR = "mlartifacts"
_log = logging.getLogger("mltrail.server")


def resolve_backend(settings: Settings) -> tuple[str, str, bool]:
    """(database URI, the store's own artifact folder URI, whether it is a folder store).

    The backend store URI takes the same forms as a tracking URI: a folder, ``file:``,
    ``sqlite:///``, ``postgresql://``, ``mysql://``.
    """
    from mltrail.uris import parse_tracking_uri

    uri = settings.backend_store_uri.strip() or str(Path.cwd() / "mltrail")
    target = parse_tracking_uri(uri)
    if target.kind != "sql":
        raise ConfigurationError(
            f"--backend-store-uri {uri!r} is a tracking server; the server needs a folder or a "
            "database URI (sqlite:///, postgresql://, mysql://)"
        )
    is_folder = target.uri != target.db_uri
    if is_folder:
        Path(target.uri).mkdir(parents=True, exist_ok=True)
    return target.db_uri, target.default_artifact_root, is_folder


def build_model_services(
    *, engine: Engine, tracking: TrackingAPI, allowed_roots: tuple[str, ...]
) -> tuple[LoggedModelService, RegistryService]:
    """The logged-model and registry services over the tracking database."""
    from mltrail.service.logged_models import LoggedModelService
    from mltrail.service.registry import RegistryService
    from mltrail.store.sql.logged_models import SqlLoggedModelStore
    from mltrail.store.sql.registry import SqlRegistryStore

    logged = LoggedModelService(store=SqlLoggedModelStore(engine), tracking=tracking)
    registry = RegistryService(
        store=SqlRegistryStore(engine),
        tracking=tracking,
        logged_models=logged,
        allowed_roots=allowed_roots,
    )
    return logged, registry


def new_experiment_root(settings: Settings, *, own_artifacts: str, is_folder: bool) -> str:
    """The artifact root of new experiments (each gets ``<root>/<experiment id>``).

    As MLflow's ``resolve_default_artifact_root``: an explicit ``--default-artifact-root``
    is used whether or not artifacts are served (clients then write to it directly, or
    through the proxy when it is an ``mlflow-artifacts:`` URI, which the proxy resolves
    against ``--artifacts-destination``); without one, ``mlflow-artifacts:/`` when serving,
    else the folder store's own ``artifacts/``.
    """
    explicit = settings.default_artifact_root.strip()
    if explicit:
        proxied_prefix = urlsplit(explicit).path.strip("/")
        if urlsplit(explicit).scheme in PROXIED_SCHEMES and proxied_prefix and not settings.no_auth:
            # Permissions map the first folder under the destination to an experiment.
            raise ConfigurationError(
                f"--default-artifact-root {explicit!r}: with authentication on, a proxied root "
                "cannot have a path; use mlflow-artifacts:/ and point --artifacts-destination "
                f"at <destination>/{proxied_prefix} instead"
            )
        return explicit
    if settings.serve_artifacts:
        return PROXY_ARTIFACT_ROOT
    if is_folder:
        return own_artifacts
    raise ConfigurationError(
        "--default-artifact-root is required with --no-serve-artifacts and a database "
        "backend store (where should clients write artifacts?)"
    )


def build_services(settings: Settings) -> Services:
    from mltrail.artifacts import open_artifact_store
    from mltrail.service.artifacts import ArtifactService
    from mltrail.service.tracking import TrackingService
    from mltrail.store.sql import open_store

    db_uri, own_artifacts, is_folder = resolve_backend(settings)
    artifacts: ArtifactService | None = None
    # The backend's own folder is where in-process clients of the same store put their files
    # (`mltrail ui` over a database they logged to).
    roots = [settings.default_artifact_root.strip(), own_artifacts]
    if settings.serve_artifacts:
        destination = settings.artifacts_destination.strip() or (
            own_artifacts if is_folder else str(Path.cwd() / DEFAULT_SERVED_ARTIFACTS_DIR)
        )
        artifacts = ArtifactService(destination=open_artifact_store(destination, settings=settings))
        roots.append(destination)
    default_root = new_experiment_root(settings, own_artifacts=own_artifacts, is_folder=is_folder)
    store = open_store(db_uri, default_artifact_root=default_root)
    allowed = tuple(dict.fromkeys(root for root in roots if root))
    tracking = TrackingService(store=store, allowed_artifact_roots=allowed)
    logged, registry = build_model_services(
        engine=store.engine, tracking=tracking, allowed_roots=allowed
    )
    return Services(
        settings=settings,
        tracking=tracking,
        artifacts=artifacts,
        engine=store.engine,
        logged_models=logged,
        registry=registry,
        allowed_artifact_roots=allowed,
    )


def start_stale_upload_cleanup(services: Services) -> threading.Thread | None:
    """Remove leftovers of uploads a killed server left in a local destination, in the
    background so that a large destination does not delay the start."""
    destination = services.artifacts.destination if services.artifacts is not None else None
    cleanup = getattr(destination, "remove_stale_uploads", None)
    if cleanup is None:
        return None  # object stores keep no temporary objects (see docs/artifacts.md)
    seconds = services.settings.stale_upload_seconds

    def run() -> None:
        try:
            removed = cleanup(older_than_seconds=seconds)
        except OSError as exc:
            _log.warning("Could not clean up interrupted uploads: %s", exc)
            return
        if removed:
            _log.info("Removed %d interrupted upload(s) older than %ss", len(removed), seconds)

    thread = threading.Thread(target=run, name="mltrail-stale-uploads", daemon=True)
    thread.start()
    return thread


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings if settings is not None else load_settings()
    services = build_services(settings)
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
    recorder = install_observability(app)
    app.include_router(build_router())
    _install_mlflow_adapter(app)
    app.include_router(ui.router())
    _document_hand_parsed_bodies(app)
    if not settings.no_auth:
        from mltrail.server.auth import install_auth

        # Innermost middleware: it sees the path after the prefix is stripped, and CORS
        # answers preflights before it.
        services = install_auth(app, services)

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
    app.add_middleware(MetricsMiddleware, metrics=recorder)
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
