"""The artifact store protocol: one root (a local folder or any fsspec URL), paths relative to it.

Every relative path given to a store goes through :func:`mltrail.artifacts.paths.safe_relpath`
first; implementations also check that the resolved location lies inside the root.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Protocol

from mltrail.entities import FileInfo


class ArtifactStore(Protocol):
    @property
    def root(self) -> str: ...

    def list(self, path: str = "") -> list[FileInfo]:
        """Direct children of ``path`` (paths relative to the root), folders first. Empty if absent."""
        ...

    def exists(self, path: str) -> bool: ...

    def is_dir(self, path: str) -> bool: ...

    def size(self, path: str) -> int: ...

    def iter_bytes(
        self, path: str, *, start: int = 0, end: int | None = None, chunk_size: int = 1 << 20
    ) -> Iterator[bytes]:
        """Stream a file (or the byte range [start, end)) in chunks."""
        ...

    def write_stream(self, path: str, chunks: Iterable[bytes]) -> int:
        """Write a file from chunks under a temporary name, rename when complete; returns bytes written."""
        ...

    def upload_file(self, local_path: Path, path: str) -> None: ...

    def upload_dir(self, local_dir: Path, path: str = "") -> None: ...

    def download(self, path: str, dst_dir: Path) -> Path:
        """Copy a file or a folder under ``dst_dir``; returns the local path. Never writes outside dst_dir."""
        ...

    def delete(self, path: str = "") -> None:
        """Remove a file or a folder (recursively); ``""`` removes everything under the root."""
        ...
