"""Use cases behind the server's proxied-artifact routes."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from mltrail.artifacts.base import ArtifactStore
from mltrail.artifacts.content_types import guess_content_type
from mltrail.artifacts.paths import safe_relpath
from mltrail.entities import FileInfo
from mltrail.errors import InvalidParameterValue, ResourceDoesNotExist


def _required_path(path: str) -> str:
    rel = safe_relpath(path)
    if not rel:
        raise InvalidParameterValue("Invalid path: a path below the artifact root is required")
    return rel


class ArtifactService:
    """Upload, download, list and delete under one artifact destination."""

    def __init__(self, *, destination: ArtifactStore) -> None:
        self._destination = destination

    @property
    def destination(self) -> ArtifactStore:
        return self._destination

    def put(self, path: str, chunks: Iterable[bytes]) -> int:
        """Stream a file in; it appears under ``path`` only once complete. Returns its size."""
        return self._destination.write_stream(_required_path(path), chunks)

    def open(
        self, path: str, start: int = 0, end: int | None = None
    ) -> tuple[Iterator[bytes], int, str]:
        """Chunks of the byte range [start, end), the file's total size, and its content type.

        The total size (not the range length) is returned so that a Range answer can build its
        ``Content-Range`` header.
        """
        rel = _required_path(path)
        if not self._destination.exists(rel):
            raise ResourceDoesNotExist(f"Artifact {rel!r} does not exist")
        if self._destination.is_dir(rel):
            raise InvalidParameterValue(f"Artifact {rel!r} is a folder, not a file")
        size = self._destination.size(rel)
        chunks = self._destination.iter_bytes(rel, start=start, end=end)
        return chunks, size, guess_content_type(rel)

    def list(self, path: str = "") -> list[FileInfo]:
        """Direct children of a folder, folders first; empty for a file or a missing folder."""
        return self._destination.list(safe_relpath(path))

    def delete(self, path: str) -> None:
        # The root is refused: one request must not be able to wipe every experiment's files.
        rel = _required_path(path)
        if not self._destination.exists(rel):
            raise ResourceDoesNotExist(f"Artifact {rel!r} does not exist")
        self._destination.delete(rel)
