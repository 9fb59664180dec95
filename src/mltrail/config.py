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
    offline: bool = False
    experiment_name: str = ""
    experiment_id: str = ""
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
    # Temporary upload files (.<name>.part-<id>) untouched this long are leftovers of a killed
    # server; they are removed at server start and by `mltrail gc`.
    stale_upload_seconds: int = 3600
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


def _convert(name: str, raw: str, kind: Any) -> Any:
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
            f"{ENV_PREFIX}{name.upper()}={raw!r} is not a valid {kind}"
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
    # Standard names other tools use for the same things.
    if "s3_endpoint_url" not in values and env.get("MLFLOW_S3_ENDPOINT_URL"):
        values["s3_endpoint_url"] = env["MLFLOW_S3_ENDPOINT_URL"]
    # `mltrail import mlflow http://...` authenticates to the MLflow server as its client would.
    for name in ("username", "password", "token", "insecure_tls"):
        field_name = f"mlflow_tracking_{name}"
        raw = env.get(field_name.upper())
        if field_name not in values and raw is not None:
            values[field_name] = _convert(
                field_name, raw, "bool" if name == "insecure_tls" else "str"
            )
    return Settings(**values).with_overrides(**overrides)


def default_local_store() -> Path:
    """The folder store used when no tracking URI is set: ``./mltrail``."""
    return Path.cwd() / DEFAULT_LOCAL_DIR
