"""The composition root: the one place that turns :class:`Settings` into the object graph.

settings → database engine → stores → services → permission-checked services. The tracking
server, its authentication layer, the CLI commands that work on a database (``users``,
``tokens``, ``groups``, ``gc``, ``db``) and the client's in-process backend all build through
here, so a store or a service is wired one way wherever it is used. Heavy modules (SQLAlchemy,
the services) are imported inside the functions: the client imports this module lazily.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from mltrail.artifacts.paths import PROXIED_URI_SCHEMES
from mltrail.config import Settings
from mltrail.errors import ConfigurationError
from mltrail.models_api import ModelsAPI
from mltrail.tracking_api import TrackingAPI
from mltrail.uris import TrackingTarget, parse_tracking_uri

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from mltrail.service.artifacts import ArtifactService
    from mltrail.service.auth import AuthService
    from mltrail.service.dashboard import DashboardAPI
    from mltrail.service.logged_models import LoggedModelService
    from mltrail.service.permissions import PermissionService
    from mltrail.service.registry import RegistryService

PROXY_ARTIFACT_ROOT = "mlflow-artifacts:/"
# Where a server on a database keeps served artifacts when no destination is given (MLflow's).
DEFAULT_SERVED_ARTIFACTS_DIR = "mlartifacts"


@dataclass(frozen=True)
class Backend:
    """Where a server's (or a CLI command's) data lives, from ``--backend-store-uri``."""

    db_uri: str
    # The store's own artifact folder (``<folder>/artifacts`` or beside the SQLite file).
    own_artifacts: str
    is_folder: bool


@dataclass(frozen=True)
class AuthState:
    auth: AuthService
    permissions: PermissionService


@dataclass(frozen=True)
class Services:
    """What the server's routes (and the CLI) work with."""

    settings: Settings
    tracking: TrackingAPI
    # None when the server runs with --no-serve-artifacts.
    artifacts: ArtifactService | None
    engine: Engine
    logged_models: LoggedModelService
    registry: RegistryService
    # The dashboard's aggregate reads.
    dashboard: DashboardAPI
    # Where stored artifact locations and model sources may point (besides mlflow-artifacts:/);
    # checked when one is stored and again when the server reads from it.
    allowed_artifact_roots: tuple[str, ...] = ()
    # Users, tokens and permissions; None without authentication.
    auth: AuthState | None = None

    @property
    def sqlite(self) -> bool:
        """The database is SQLite: a small write can be tried on the server's event loop."""
        return self.engine.dialect.name == "sqlite"


def locate_backend(settings: Settings) -> Backend:
    """The database and artifact folder of ``settings.backend_store_uri``: a folder, ``file:``,
    ``sqlite:///``, ``postgresql://`` or ``mysql://`` (default: the folder ./mltrail)."""
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
    return Backend(target.db_uri, target.default_artifact_root, is_folder)


def served_destination(settings: Settings, backend: Backend) -> str:
    """Where the artifact proxy stores files (``mlflow-artifacts:/`` locations).

    ``--artifacts-destination`` if given. Else a bucket or folder given as
    ``--default-artifact-root`` (MLflow's own command line, ``mlflow server
    --default-artifact-root gs://bucket``): with the proxy on, that root is where the proxy
    puts the files, at the very paths MLflow would use, and clients need no cloud credentials.
    Else the folder store's own ``artifacts/``, or ``./mlartifacts`` beside a database.
    """
    explicit = settings.artifacts_destination.strip()
    if explicit:
        return explicit
    root = settings.default_artifact_root.strip()
    if root and not _is_proxied(root):
        return root
    return (
        backend.own_artifacts
        if backend.is_folder
        else str(Path.cwd() / DEFAULT_SERVED_ARTIFACTS_DIR)
    )


def new_experiment_root(settings: Settings, backend: Backend) -> str:
    """The artifact root of new experiments (each gets ``<root>/<experiment id>``).

    As MLflow's ``resolve_default_artifact_root``: an explicit ``--default-artifact-root``
    is used whether or not artifacts are served (clients then write to it directly, or
    through the proxy when it is an ``mlflow-artifacts:`` URI, which the proxy resolves
    against ``--artifacts-destination``) — except that a root given while the proxy is on and
    no ``--artifacts-destination`` is given becomes the proxy's destination (see
    :func:`served_destination`), so new experiments get ``mlflow-artifacts:/`` and the files
    still land under that root. Without a root: ``mlflow-artifacts:/`` when serving, else the
    folder store's own ``artifacts/``.
    """
    explicit = settings.default_artifact_root.strip()
    if explicit and _is_proxied(explicit):
        proxied_prefix = urlsplit(explicit).path.strip("/")
        if proxied_prefix and not settings.no_auth:
            # Permissions map the first folder under the destination to an experiment.
            raise ConfigurationError(
                f"--default-artifact-root {explicit!r}: with authentication on, a proxied root "
                "cannot have a path; use mlflow-artifacts:/ and point --artifacts-destination "
                f"at <destination>/{proxied_prefix} instead"
            )
        return explicit
    if explicit and not (settings.serve_artifacts and not settings.artifacts_destination.strip()):
        return explicit
    if settings.serve_artifacts:
        return PROXY_ARTIFACT_ROOT
    if backend.is_folder:
        return backend.own_artifacts
    raise ConfigurationError(
        "--default-artifact-root is required with --no-serve-artifacts and a database "
        "backend store (where should clients write artifacts?)"
    )


def describe_artifacts(settings: Settings) -> str:
    """Where artifacts go, in one line for the server's start-up banner."""
    backend = locate_backend(settings)
    root = new_experiment_root(settings, backend)
    if not settings.serve_artifacts:
        return f"clients write directly to {root} (they need credentials for it)"
    served = f"proxied to {served_destination(settings, backend)} (clients need no credentials)"
    if _is_proxied(root):
        return served
    return (
        f"new experiments at {root}: clients write there directly (they need credentials "
        f"for it); {served} for mlflow-artifacts:/ locations"
    )


def _is_proxied(uri: str) -> bool:
    return urlsplit(uri).scheme in PROXIED_URI_SCHEMES


def open_database(db_uri: str) -> Engine:
    """An engine on ``db_uri`` with the schema created or upgraded (a newer one is refused)."""
    from mltrail.store.sql.engine import create_engine_for
    from mltrail.store.sql.migrate import ensure_schema

    engine = create_engine_for(db_uri)
    try:
        ensure_schema(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine


def open_auth(engine: Engine, settings: Settings) -> AuthState:
    """Users, tokens, sessions and permissions over the tracking database."""
    from mltrail.service.auth import AuthService
    from mltrail.service.login_throttle import LoginThrottle, ThrottleLimits
    from mltrail.service.permissions import Level, PermissionService
    from mltrail.store.sql.auth import SqlAuthStore
    from mltrail.store.sql.login_throttle import SqlThrottleStore

    store = SqlAuthStore(engine)
    default = Level.parse(settings.default_permission or "NONE")
    # Failed logins are counted in the database: every server process on it shares one budget.
    limits = ThrottleLimits(slow_interval_seconds=settings.login_slow_interval_seconds)
    throttle = LoginThrottle(SqlThrottleStore(engine), limits)
    return AuthState(
        auth=AuthService(store=store, throttle=throttle),
        permissions=PermissionService(store=store, default_level=default),
    )


def build_services(settings: Settings, *, checked: bool | None = None) -> Services:
    """The server's services; permission-checked unless ``checked`` is False (default: checked
    unless the settings say ``no_auth``)."""
    from mltrail.artifacts import open_artifact_store
    from mltrail.service.artifacts import ArtifactService
    from mltrail.service.dashboard import DashboardService
    from mltrail.service.tracking import TrackingService
    from mltrail.store.sql import open_store
    from mltrail.store.sql.dashboard import SqlDashboardStore

    checked = not settings.no_auth if checked is None else checked
    backend = locate_backend(settings)
    artifacts: ArtifactService | None = None
    # The backend's own folder is where in-process clients of the same store put their files
    # (`mltrail ui` over a database they logged to).
    roots = [settings.default_artifact_root.strip(), backend.own_artifacts]
    if settings.serve_artifacts:
        destination = served_destination(settings, backend)
        artifacts = ArtifactService(destination=open_artifact_store(destination, settings=settings))
        roots.append(destination)
    store = open_store(backend.db_uri, default_artifact_root=new_experiment_root(settings, backend))
    allowed = tuple(dict.fromkeys(root for root in roots if root))
    tracking: TrackingAPI = TrackingService(store=store, allowed_artifact_roots=allowed)
    dashboard: DashboardAPI = DashboardService(store=SqlDashboardStore(store.engine))
    auth = open_auth(store.engine, settings) if checked else None
    if auth is not None:
        from mltrail.service.authorized import (
            AuthorizedArtifacts,
            AuthorizedDashboard,
            AuthorizedTracking,
        )

        tracking = AuthorizedTracking(tracking, permissions=auth.permissions)
        dashboard = AuthorizedDashboard(dashboard, permissions=auth.permissions)
        if artifacts is not None:
            artifacts = AuthorizedArtifacts(artifacts, permissions=auth.permissions)  # type: ignore[assignment]
    # The model services look runs and experiments up through the (checked) tracking service.
    logged, registry = model_services(engine=store.engine, tracking=tracking, allowed_roots=allowed)
    if auth is not None:
        from mltrail.service.authorized import AuthorizedLoggedModels, AuthorizedRegistry

        logged = AuthorizedLoggedModels(logged, permissions=auth.permissions)  # type: ignore[assignment]
        registry = AuthorizedRegistry(registry, permissions=auth.permissions)  # type: ignore[assignment]
    return Services(
        settings=settings,
        tracking=tracking,
        artifacts=artifacts,
        engine=store.engine,
        logged_models=logged,
        registry=registry,
        dashboard=dashboard,
        allowed_artifact_roots=allowed,
        auth=auth,
    )


def model_services(
    *, engine: Engine, tracking: TrackingAPI, allowed_roots: tuple[str, ...] | None
) -> tuple[LoggedModelService, RegistryService]:
    """The logged-model and registry services; they look runs and experiments up through
    ``tracking`` (the checked one when permissions apply)."""
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


def open_local(target: TrackingTarget) -> tuple[TrackingAPI, ModelsAPI]:
    """The client's in-process backend: the tracking service over ``target``'s database and
    the logged-model and registry services beside it (no server, no permissions)."""
    from mltrail.service.models import ModelsService
    from mltrail.service.tracking import TrackingService
    from mltrail.store.sql import open_store

    if target.db_uri.startswith("sqlite:///"):
        # A folder store is created on first use, like MLflow's ./mlruns.
        Path(target.db_uri[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
    store = open_store(target.db_uri, default_artifact_root=target.default_artifact_root)
    tracking = TrackingService(store=store)
    logged, registry = model_services(engine=store.engine, tracking=tracking, allowed_roots=None)
    return tracking, ModelsService(logged_models=logged, registry=registry)
