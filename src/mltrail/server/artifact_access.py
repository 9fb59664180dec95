"""Reading a run's artifacts for the browser and its previews.

A run's ``artifact_uri`` is either ``mlflow-artifacts:/<p>`` (files the server stores under its
artifacts destination, at ``<p>/...``) or a folder / fsspec URL opened directly. Every path from
the browser goes through :func:`mltrail.artifacts.safe_relpath`.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlparse

from mltrail.artifacts import open_artifact_store, safe_relpath
from mltrail.artifacts.base import ArtifactStore
from mltrail.artifacts.paths import PROXIED_URI_SCHEMES, check_stored_uri
from mltrail.entities import FileInfo
from mltrail.errors import InvalidParameterValue, ResourceDoesNotExist
from mltrail.server.services import Services


@dataclass(frozen=True)
class RunArtifacts:
    store: ArtifactStore
    prefix: str  # the run's folder below the store's root ('' when the store is the run's folder)

    def _full(self, path: str) -> str:
        rel = safe_relpath(path)
        if not self.prefix:
            return rel
        return f"{self.prefix}/{rel}" if rel else self.prefix

    def full_path(self, path: str) -> str:
        """Where ``path`` (relative to the run's folder, checked) is in the store."""
        return self._full(path)

    def _relative(self, full: str) -> str:
        if self.prefix and full.startswith(self.prefix + "/"):
            return full[len(self.prefix) + 1 :]
        return full

    def list(self, path: str = "") -> list[FileInfo]:
        return [
            FileInfo(path=self._relative(info.path), is_dir=info.is_dir, file_size=info.file_size)
            for info in self.store.list(self._full(path))
        ]

    def size(self, path: str) -> int:
        full = self.location_of(path)
        return self.store.size(full)

    def is_dir(self, path: str) -> bool:
        full = self._full(path)
        return self.store.exists(full) and self.store.is_dir(full)

    def exists(self, path: str) -> bool:
        return self.store.exists(self._full(path))

    def location_of(self, path: str) -> str:
        """The file's path in the store; a folder or a missing file is a typed error."""
        full = self._full(path)
        if not safe_relpath(path) or not self.store.exists(full):
            raise ResourceDoesNotExist(f"Artifact {path!r} does not exist")
        if self.store.is_dir(full):
            raise InvalidParameterValue(f"Artifact {path!r} is a folder, not a file")
        return full

    def read(self, path: str, *, limit: int) -> bytes:
        """The first ``limit`` bytes of a file."""
        full = self.location_of(path)
        size = self.store.size(full)
        chunks = self.store.iter_bytes(full, start=0, end=min(size, limit))
        return b"".join(chunks)


def run_artifacts(services: Services, artifact_uri: str) -> RunArtifacts:
    if not artifact_uri:
        raise ResourceDoesNotExist("This run has no artifact location")
    # Checked again when used: a location stored before the check, or under another
    # configuration, must not make the server read its own files outside the roots.
    check_stored_uri(
        artifact_uri, allowed_roots=services.allowed_artifact_roots, what="artifact location"
    )
    scheme = urlparse(artifact_uri).scheme.lower()
    if scheme in PROXIED_URI_SCHEMES:
        if services.artifacts is None:
            raise InvalidParameterValue(
                "This server does not serve artifacts (--no-serve-artifacts); "
                f"the run's files are at {artifact_uri}"
            )
        prefix = safe_relpath(urlparse(artifact_uri).path.lstrip("/"))
        return RunArtifacts(store=services.artifacts.destination, prefix=prefix)
    return RunArtifacts(
        store=open_artifact_store(artifact_uri, settings=services.settings), prefix=""
    )
