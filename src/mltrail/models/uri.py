"""Turning a model URI (local path, ``file://``, ``runs:/``, an artifact-store URL) into a folder."""

from __future__ import annotations

import tempfile
from pathlib import Path

from mltrail.artifacts.local import local_path_from_uri
from mltrail.artifacts.paths import safe_relpath
from mltrail.errors import InvalidParameterValue, ResourceDoesNotExist

RUNS_PREFIX = "runs:/"


def parse_runs_uri(model_uri: str) -> tuple[str, str]:
    """``(run_id, artifact_path)`` of ``runs:/<run_id>/<path>``."""
    rest = model_uri[len(RUNS_PREFIX) :].lstrip("/")
    run_id, _, path = rest.partition("/")
    if not run_id:
        raise InvalidParameterValue(
            f"Invalid model URI {model_uri!r}: expected runs:/<run_id>/<artifact path>"
        )
    return run_id, safe_relpath(path)


def download_dir(prefix: str = "mltrail-model-") -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))


def resolve_model_uri(model_uri: str | Path) -> Path:
    """A local folder holding the model named by ``model_uri``, downloading it if needed."""
    if isinstance(model_uri, Path):
        local = model_uri
    elif not isinstance(model_uri, str) or not model_uri:
        raise InvalidParameterValue("A model URI is required")
    elif model_uri.startswith(RUNS_PREFIX):
        run_id, path = parse_runs_uri(model_uri)
        from mltrail.client.tracking_client import TrackingClient

        local = Path(TrackingClient().download_artifacts(run_id, path, str(download_dir())))
    elif model_uri.startswith("models:"):
        raise InvalidParameterValue(
            f"Cannot load {model_uri!r}: models:/ URIs are not supported yet; "
            "use runs:/<run_id>/<path> or a folder"
        )
    elif "://" in model_uri and not model_uri.startswith("file:"):
        from mltrail.artifacts import open_artifact_store

        local = open_artifact_store(model_uri).download("", download_dir())
    else:
        local = local_path_from_uri(model_uri)
    if not local.exists():
        raise ResourceDoesNotExist(f"Model not found: {str(model_uri)!r}")
    return local
