"""Artifact stores: one root (a local folder or any fsspec URL) with paths relative to it."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from mltrail.artifacts.base import ArtifactStore
from mltrail.artifacts.paths import ensure_within, safe_join, safe_relpath
from mltrail.config import Settings
from mltrail.errors import ConfigurationError

__all__ = ["ArtifactStore", "ensure_within", "open_artifact_store", "safe_join", "safe_relpath"]

# These name the tracking server's artifact proxy; the client resolves them, not a store.
_PROXY_SCHEMES = frozenset(
    {"http", "https", "mlflow-artifacts", "mltrail-artifacts", "runs", "models"}
)


def open_artifact_store(uri: str, *, settings: Settings | None = None) -> ArtifactStore:
    """The store for an artifact root: a local path / ``file://`` or an fsspec URL."""
    if not uri:
        raise ConfigurationError("An artifact root URI is required")
    scheme = urlparse(uri).scheme.lower()
    # One-letter "schemes" are Windows drive letters.
    if scheme in ("", "file") or len(scheme) == 1:
        from mltrail.artifacts.local import LocalArtifactStore

        return LocalArtifactStore(uri)
    if scheme in _PROXY_SCHEMES:
        raise ConfigurationError(
            f"{uri!r} is served through a tracking server, not opened as an artifact store"
        )
    from mltrail.artifacts.fs import FsspecArtifactStore

    return FsspecArtifactStore(uri, storage_options=_storage_options(scheme, settings))


def _storage_options(scheme: str, settings: Settings | None) -> dict[str, Any]:
    if settings is None:
        return {}
    if scheme in ("s3", "s3a") and settings.s3_endpoint_url:
        return {"endpoint_url": settings.s3_endpoint_url}
    if scheme in ("gs", "gcs") and settings.gcs_endpoint_url:
        return {"endpoint_url": settings.gcs_endpoint_url}
    return {}
