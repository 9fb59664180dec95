"""Turning a model URI into a local folder: a path, ``file://``, an artifact-store URL,
``runs:/<run_id>/<path>`` and ``models:/`` (``models:/<model_id>``, ``models:/<name>/<version>``,
``models:/<name>/<stage>``, ``models:/<name>/latest``, ``models:/<name>@<alias>``).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mltrail.artifacts.local import local_path_from_uri
from mltrail.artifacts.paths import safe_relpath
from mltrail.errors import InvalidParameterValue, ResourceDoesNotExist

if TYPE_CHECKING:
    from mltrail.client.tracking_client import TrackingClient
    from mltrail.model_entities import LoggedModel

RUNS_PREFIX = "runs:/"
MODELS_PREFIX = "models:/"
LATEST = "latest"


@dataclass(frozen=True)
class ParsedModelsUri:
    """Exactly one of: a logged model id; a name with a version, a stage, an alias or none
    of them (the latest version)."""

    model_id: str | None = None
    name: str | None = None
    version: int | None = None
    stage: str | None = None
    alias: str | None = None


def parse_runs_uri(model_uri: str) -> tuple[str, str]:
    """``(run_id, artifact_path)`` of ``runs:/<run_id>/<path>``."""
    rest = model_uri[len(RUNS_PREFIX) :].lstrip("/")
    run_id, _, path = rest.partition("/")
    if not run_id:
        raise InvalidParameterValue(
            f"Invalid model URI {model_uri!r}: expected runs:/<run_id>/<artifact path>"
        )
    return run_id, safe_relpath(path)


def _improper(model_uri: str) -> InvalidParameterValue:
    return InvalidParameterValue(
        f"Invalid model URI {model_uri!r}: expected models:/<model_id>, "
        "models:/<name>/<version>, models:/<name>/<stage>, models:/<name>/latest "
        "or models:/<name>@<alias>"
    )


def parse_models_uri(model_uri: str) -> ParsedModelsUri:
    """The parts of a ``models:/`` URI, with MLflow's reading of them."""
    if not model_uri.startswith(MODELS_PREFIX):
        raise _improper(model_uri)
    parts = model_uri[len(MODELS_PREFIX) :].lstrip("/").split("/")
    if len(parts) > 2 or not parts[0].strip():
        raise _improper(model_uri)
    if len(parts) == 2:
        name, suffix = parts
        if not suffix.strip() or "@" in name:
            raise _improper(model_uri)
        if suffix.isdigit():
            return ParsedModelsUri(name=name, version=int(suffix))
        if suffix.lower() == LATEST:
            return ParsedModelsUri(name=name)
        return ParsedModelsUri(name=name, stage=suffix)
    if "@" in parts[0]:
        name, _, alias = parts[0].rpartition("@")
        if not name or not alias.strip():
            raise _improper(model_uri)
        return ParsedModelsUri(name=name, alias=alias)
    return ParsedModelsUri(model_id=parts[0])


def models_uri_location(client: TrackingClient, parsed: ParsedModelsUri) -> str:
    """The artifact URI of the files a parsed ``models:/`` URI names."""
    if parsed.model_id is not None:
        return client.get_logged_model(parsed.model_id).artifact_location
    assert parsed.name is not None
    name = parsed.name
    if parsed.alias is not None:
        version = client.get_model_version_by_alias(name, parsed.alias).version
    elif parsed.version is not None:
        version = parsed.version
    else:
        stages = [parsed.stage] if parsed.stage is not None else None
        latest = client.get_latest_versions(name, stages=stages)
        if not latest:
            where = f" in stage '{parsed.stage}'" if parsed.stage is not None else ""
            raise ResourceDoesNotExist(f"Registered model '{name}' has no version{where}")
        version = max(v.version for v in latest)
    return client.get_model_version_download_uri(name, version)


def logged_model_of_run(client: TrackingClient, run_id: str, name: str) -> LoggedModel | None:
    """The newest logged model named ``name`` that run ``run_id`` produced, if any."""
    run = client.get_run(run_id)
    escaped = name.replace("\\", "\\\\").replace("'", "\\'")
    found = client.search_logged_models(
        [run.info.experiment_id],
        filter_string=f"name = '{escaped}' AND source_run_id = '{run_id}'",
        max_results=1,
    )
    return found[0] if found else None


def _download_runs_uri(client: TrackingClient, model_uri: str, dst: Path | None = None) -> Path:
    """A run's artifact folder; else, as MLflow 3 does, the files of the logged model the run
    produced under that name (``log_model`` stores a model's files only once, with the model)."""
    run_id, path = parse_runs_uri(model_uri)
    store = client.artifact_store(run_id)
    if not path or store.exists(path):
        return Path(client.download_artifacts(run_id, path, str(dst or download_dir())))
    name, _, rest = path.partition("/")
    logged = logged_model_of_run(client, run_id, name)
    if logged is None:
        raise ResourceDoesNotExist(
            f"Model not found: {model_uri!r} (run {run_id} has no artifact {path!r} "
            f"and no logged model named {name!r})"
        )
    location = logged.artifact_location.rstrip("/")
    return Path(
        client.download_artifacts_from_uri(
            f"{location}/{rest}" if rest else location, dst or download_dir()
        )
    )


def _default_client() -> TrackingClient:
    from mltrail.client.tracking_client import TrackingClient

    return TrackingClient()


def download_model(client: TrackingClient, model_uri: str, dst: Path | None = None) -> Path:
    """Download the model a ``runs:/`` or ``models:/`` URI names, through ``client`` (so through
    its tracking URI), into ``dst`` (default: a new temporary folder)."""
    if model_uri.startswith(RUNS_PREFIX):
        parse_runs_uri(model_uri)
        return _download_runs_uri(client, model_uri, dst)
    if model_uri.startswith("models:"):
        location = models_uri_location(client, parse_models_uri(model_uri))
        return Path(client.download_artifacts_from_uri(location, dst or download_dir()))
    raise InvalidParameterValue(
        f"Invalid model URI {model_uri!r}: expected runs:/<run_id>/<path>, models:/<model_id>, "
        "models:/<name>/<version> or models:/<name>@<alias>"
    )


def download_dir(prefix: str = "mltrail-model-") -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))


def resolve_model_uri(model_uri: str | Path, *, client: TrackingClient | None = None) -> Path:
    """A local folder holding the model named by ``model_uri``, downloading it if needed.

    ``runs:/`` and ``models:/`` URIs are looked up through ``client`` (default: a client of the
    current tracking URI)."""
    if isinstance(model_uri, Path):
        local = model_uri
    elif not isinstance(model_uri, str) or not model_uri:
        raise InvalidParameterValue("A model URI is required")
    elif model_uri.startswith(RUNS_PREFIX):
        parse_runs_uri(model_uri)
        local = _download_runs_uri(client or _default_client(), model_uri)
    elif model_uri.startswith("models:"):
        parsed = parse_models_uri(model_uri)
        client = client or _default_client()
        location = models_uri_location(client, parsed)
        local = Path(client.download_artifacts_from_uri(location, download_dir()))
    elif "://" in model_uri and not model_uri.startswith("file:"):
        from mltrail.artifacts import open_artifact_store

        local = open_artifact_store(model_uri).download("", download_dir())
    else:
        local = local_path_from_uri(model_uri)
    if not local.exists():
        raise ResourceDoesNotExist(f"Model not found: {str(model_uri)!r}")
    return local
