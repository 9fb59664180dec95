"""Reading the files below an artifact location a source recorded (a folder or a bucket URL).

MLflow records absolute paths, ``file://`` URIs, bucket URLs (``s3://``, ``gs://``, ...)
and, when its server proxied artifacts, ``mlflow-artifacts:/<path>`` (a path below that
server's ``--artifacts-destination``, given here as ``mlflow_artifacts_root``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

from mltrail.artifacts import open_artifact_store
from mltrail.artifacts.base import ArtifactStore
from mltrail.artifacts.local import local_path_from_uri
from mltrail.config import Settings
from mltrail.errors import ConfigurationError, MltrailError
from mltrail.transfer.records import ArtifactFile

CHUNK_BYTES = 1 << 20
_PROXIED = ("mlflow-artifacts", "mltrail-artifacts")


class UnreadableLocation(MltrailError):
    """An artifact location the import cannot open (says which, and how to make it readable)."""


class LocationReader:
    def __init__(
        self,
        *,
        settings: Settings,
        mlflow_artifacts_root: str | None = None,
        base_dir: Path | None = None,
    ) -> None:
        self._settings = settings
        self._proxy_root = mlflow_artifacts_root
        self._base_dir = base_dir
        self._stores: dict[str, ArtifactStore] = {}

    def resolve(self, location: str) -> str:
        """A local path or an fsspec URL for ``location``."""
        parsed = urlparse(location)
        scheme = parsed.scheme.lower()
        if scheme in _PROXIED:
            if not self._proxy_root:
                raise UnreadableLocation(
                    f"Artifacts at {location} are kept by the MLflow server's artifact proxy: "
                    "pass --mlflow-artifacts-root with that server's --artifacts-destination "
                    "(e.g. ./mlartifacts), or import from the server's URL"
                )
            return f"{self._proxy_root.rstrip('/')}/{parsed.path.lstrip('/')}"
        if scheme in ("", "file") or len(scheme) == 1:
            path = local_path_from_uri(location)
            if not path.is_absolute() and self._base_dir is not None:
                path = self._base_dir / path
            return str(path)
        if scheme in ("http", "https", "runs", "models", "dbfs"):
            raise UnreadableLocation(f"Cannot read artifacts at {location} directly")
        return location

    def _is_local(self, resolved: str) -> bool:
        scheme = urlparse(resolved).scheme.lower()
        return scheme in ("", "file") or len(scheme) == 1

    def exists(self, location: str) -> bool:
        resolved = self.resolve(location)
        if self._is_local(resolved):
            return os.path.isdir(local_path_from_uri(resolved))
        return self._store(resolved).exists("")

    def list(self, location: str) -> list[ArtifactFile]:
        resolved = self.resolve(location)
        if self._is_local(resolved):
            return _walk_local(local_path_from_uri(resolved))
        return _walk_store(self._store(resolved), "")

    def open(self, location: str, path: str) -> Iterator[bytes]:
        resolved = self.resolve(location)
        if self._is_local(resolved):
            return _read_local(local_path_from_uri(resolved) / path)
        return self._store(resolved).iter_bytes(path, chunk_size=CHUNK_BYTES)

    def _store(self, url: str) -> ArtifactStore:
        store = self._stores.get(url)
        if store is None:
            try:
                store = open_artifact_store(url, settings=self._settings)
            except (ConfigurationError, ImportError) as exc:
                raise UnreadableLocation(f"Cannot open artifacts at {url}: {exc}") from exc
            if len(self._stores) > 64:
                self._stores.clear()
            self._stores[url] = store
        return store


def _walk_local(root: Path) -> list[ArtifactFile]:
    out: list[ArtifactFile] = []
    if not root.is_dir():
        return out
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        rel_folder = os.path.relpath(folder, root)
        for name in sorted(files):
            full = os.path.join(folder, name)
            rel = name if rel_folder == "." else f"{rel_folder}/{name}".replace(os.sep, "/")
            out.append(ArtifactFile(rel, os.path.getsize(full)))
    return out


def _walk_store(store: ArtifactStore, path: str) -> list[ArtifactFile]:
    out: list[ArtifactFile] = []
    for info in store.list(path):
        if info.is_dir:
            out.extend(_walk_store(store, info.path))
        else:
            out.append(ArtifactFile(info.path, int(info.file_size or 0)))
    return out


def _read_local(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(CHUNK_BYTES)
            if not chunk:
                return
            yield chunk
