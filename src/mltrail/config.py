"""The one settings object. Nothing else in mltrail reads ``os.environ``.

Every field can be set by an environment variable named ``MLTRAIL_<FIELD>``
(upper case); command-line options override the environment by passing
keyword arguments to :func:`load_settings`.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mltrail.errors import ConfigurationError

ENV_PREFIX = "MLTRAIL_"
DEFAULT_LOCAL_DIR = "mltrail"


@dataclass(frozen=True)
class Settings:
    # -- client ------------------------------------------------------------
    tracking_uri: str = ""
    # Which variable tracking_uri came from (MLTRAIL_TRACKING_URI or MLFLOW_TRACKING_URI).
    tracking_uri_source: str = ""
    # The fluent API says once, on stderr, where the process logs; quiet turns that off.
    quiet: bool = False
    # An uncaught mltrail error in a script prints one line; tracebacks brings the full
    # traceback back.
    tracebacks: bool = False
    tracking_username: str = ""
    tracking_password: str = ""
    tracking_token: str = ""
    tracking_insecure_tls: bool = False
    tracking_server_cert_path: str = ""
    http_timeout: float = 30.0
    http_max_retries: int = 7
    synchronous: bool = False
    flush_timeout: float = 5.0
    batch_max_points: int = 10_000
    spool_dir: str = ""
    # Artifacts and models kept in the spool while the server is down, all runs together.
    spool_max_artifact_bytes: int = 5 * 1024**3
    offline: bool = False
    experiment_name: str = ""
    experiment_id: str = ""
    # -- system metrics and autologging (client) ------------------------------
    # MLflow's MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING, ..._SAMPLING_INTERVAL,
    # ..._SAMPLES_BEFORE_LOGGING and ..._NODE_ID are read too (see _MLFLOW_ALIASES).
    enable_system_metrics_logging: bool = False
    system_metrics_sampling_interval: float = 10.0
    # How many samples are averaged into one logged point (the averaging window).
    system_metrics_samples_before_logging: int = 1
    system_metrics_node_id: str = ""
    # Child runs a hyper-parameter search creates under autolog (the best-ranked candidates).
    autolog_max_tuning_runs: int = 5
    # -- server ------------------------------------------------------------
    backend_store_uri: str = ""
    default_artifact_root: str = ""
    artifacts_destination: str = ""
    serve_artifacts: bool = True
    host: str = "127.0.0.1"
    port: int = 5000
    workers: int = 1
    static_prefix: str = ""
    ssl_certfile: str = ""
    ssl_keyfile: str = ""
    allowed_hosts: tuple[str, ...] = ()
    cors_allowed_origins: tuple[str, ...] = ()
    max_request_bytes: int = 64 * 1024 * 1024
    no_auth: bool = False
    default_permission: str = "NONE"
    admin_password: str = ""
    forwarded_allow_ips: tuple[str, ...] = ()
    # How long a server process trusts a verified Basic password or token without asking the
    # database again: the bound on how late a revoked token stops working on every replica.
    auth_cache_seconds: float = 5.0
    # Once a user's failed logins pass the ceiling, addresses that already failed for that
    # user share one password try per this many seconds (see service/login_throttle.py).
    login_slow_interval_seconds: float = 1.0
    # On SIGTERM, requests in flight get this long to finish before they are cancelled.
    graceful_shutdown_seconds: float = 30.0
    # Temporary upload files (.<name>.part-<id>) untouched this long are leftovers of a killed
    # server; they are removed at server start and by `mltrail gc`.
    stale_upload_seconds: int = 3600
    # Set by the server for its workers (--workers > 1): where prometheus_client's
    # multi-process mode keeps their counts, so that /metrics adds them all up.
    metrics_dir: str = ""
    # -- importing from an MLflow server (MLflow's own variable names, see load_settings) --
    mlflow_tracking_username: str = ""
    mlflow_tracking_password: str = ""
    mlflow_tracking_token: str = ""
    mlflow_tracking_insecure_tls: bool = False
    # -- storage -----------------------------------------------------------
    s3_endpoint_url: str = ""
    gcs_endpoint_url: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)

    def with_overrides(self, **overrides: Any) -> Settings:
        """A copy with the given non-None fields replaced (CLI options over environment)."""
        clean = {k: v for k, v in overrides.items() if v is not None}
        return dataclasses.replace(self, **clean)


def _convert(name: str, raw: str, kind: Any, *, variable: str | None = None) -> Any:
    text = raw.strip()
    try:
        if kind in (bool, "bool"):
            lowered = text.lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off", ""):
                return False
            raise ValueError(raw)
        if kind in (int, "int"):
            return int(text)
        if kind in (float, "float"):
            return float(text)
        if kind in ("tuple[str, ...]",):
            return tuple(p.strip() for p in text.split(",") if p.strip())
    except ValueError as exc:
        raise ConfigurationError(
            f"{variable or ENV_PREFIX + name.upper()}={raw!r} is not a valid {kind}"
        ) from exc
    return raw


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Settings from the environment (``MLTRAIL_*``), then explicit overrides."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for f in dataclasses.fields(Settings):
        if f.name == "extra":
            continue
        raw = env.get(ENV_PREFIX + f.name.upper())
        if raw is not None:
            values[f.name] = _convert(f.name, raw, f.type)
    # Standard names other tools use for the same things: a script moved from mlflow logs
    # where its environment says (and the client says once where that is).
    for name, alias in _MLFLOW_ALIASES.items():
        if name not in values and env.get(alias):
            kind = next(f.type for f in dataclasses.fields(Settings) if f.name == name)
            values[name] = _convert(name, env[alias], kind, variable=alias)
            if name == "tracking_uri":
                values["tracking_uri_source"] = alias
    if "tracking_uri" in values and "tracking_uri_source" not in values:
        values["tracking_uri_source"] = ENV_PREFIX + "TRACKING_URI"
    # `mltrail import mlflow http://...` authenticates to the MLflow server as its client would.
    for name in ("username", "password", "token", "insecure_tls"):
        field_name = f"mlflow_tracking_{name}"
        raw = env.get(field_name.upper())
        if field_name not in values and raw is not None:
            values[field_name] = _convert(
                field_name, raw, "bool" if name == "insecure_tls" else "str"
            )
    settings = Settings(**values).with_overrides(**overrides)
    _check_client_limits(settings)
    return settings


# Settings that MLflow's environment variables also set (the MLTRAIL_ name wins).
_MLFLOW_ALIASES = {
    "tracking_uri": "MLFLOW_TRACKING_URI",
    "tracking_username": "MLFLOW_TRACKING_USERNAME",
    "tracking_password": "MLFLOW_TRACKING_PASSWORD",
    "tracking_token": "MLFLOW_TRACKING_TOKEN",
    "tracking_insecure_tls": "MLFLOW_TRACKING_INSECURE_TLS",
    "tracking_server_cert_path": "MLFLOW_TRACKING_SERVER_CERT_PATH",
    "experiment_name": "MLFLOW_EXPERIMENT_NAME",
    "experiment_id": "MLFLOW_EXPERIMENT_ID",
    "s3_endpoint_url": "MLFLOW_S3_ENDPOINT_URL",
    "backend_store_uri": "MLFLOW_BACKEND_STORE_URI",
    "default_artifact_root": "MLFLOW_DEFAULT_ARTIFACT_ROOT",
    "artifacts_destination": "MLFLOW_ARTIFACTS_DESTINATION",
    "enable_system_metrics_logging": "MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING",
    "system_metrics_sampling_interval": "MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL",
    "system_metrics_samples_before_logging": "MLFLOW_SYSTEM_METRICS_SAMPLES_BEFORE_LOGGING",
    "system_metrics_node_id": "MLFLOW_SYSTEM_METRICS_NODE_ID",
}


def _check_client_limits(settings: Settings) -> None:
    interval = settings.system_metrics_sampling_interval
    if not interval > 0 or interval == float("inf"):
        raise ConfigurationError(
            f"{ENV_PREFIX}SYSTEM_METRICS_SAMPLING_INTERVAL must be a positive number of seconds "
            f"(got {interval!r})"
        )
    if settings.system_metrics_samples_before_logging < 1:
        raise ConfigurationError(
            f"{ENV_PREFIX}SYSTEM_METRICS_SAMPLES_BEFORE_LOGGING must be at least 1 "
            f"(got {settings.system_metrics_samples_before_logging})"
        )
    if settings.autolog_max_tuning_runs < 0:
        raise ConfigurationError(
            f"{ENV_PREFIX}AUTOLOG_MAX_TUNING_RUNS must be 0 or more "
            f"(got {settings.autolog_max_tuning_runs})"
        )


def default_local_store() -> Path:
    """The folder store used when no tracking URI is set: ``./mltrail``."""
    return Path.cwd() / DEFAULT_LOCAL_DIR
