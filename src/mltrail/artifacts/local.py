"""Artifact store on a local folder (plain paths and ``file://`` URIs)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from urllib.parse import unquote, urlparse
from urllib.request import url2pathname

from mltrail.artifacts import transfer
from mltrail.artifacts.localfile import (
    is_temp_name,
    remove_stale_temp_files,
    write_file_atomic,
)
from mltrail.artifacts.paths import ensure_within, safe_relpath
from mltrail.entities import FileInfo
from mltrail.errors import ConfigurationError, InvalidParameterValue, ResourceDoesNotExist


def local_path_from_uri(uri: str | Path) -> Path:
    """The folder named by a plain path or a ``file://`` URI."""
    if isinstance(uri, Path):
        return uri
    if uri.startswith("file:"):
        parsed = urlparse(uri)
        if parsed.netloc not in ("", "localhost"):
            raise ConfigurationError(f"file URI with a remote host is not supported: {uri!r}")
        return Path(url2pathname(unquote(parsed.path)))
    return Path(uri)


def check_range(start: int, end: int | None, size: int) -> int:
    """The effective end of the byte range [start, end) of a file of ``size`` bytes."""
    if start < 0 or (end is not None and end < start):
        raise InvalidParameterValue(f"Invalid byte range: start={start}, end={end}")
    return size if end is None else min(end, size)


class LocalArtifactStore:
    def __init__(self, root: str | Path) -> None:
        self._root = local_path_from_uri(root).expanduser().absolute()

    @property
    def root(self) -> str:
        return str(self._root)

    def _locate(self, path: str) -> tuple[str, Path]:
        rel = safe_relpath(path)
        return rel, ensure_within(self._root, self._root / rel if rel else self._root)

    def _existing_file(self, path: str) -> tuple[str, Path]:
        rel, full = self._locate(path)
        if not full.exists():
            raise ResourceDoesNotExist(f"Artifact {rel!r} does not exist")
        if full.is_dir():
            raise InvalidParameterValue(f"Artifact {rel!r} is a folder, not a file")
        return rel, full

    def list(self, path: str = "") -> list[FileInfo]:
        rel, full = self._locate(path)
        if not full.is_dir():
            return []
        dirs: list[FileInfo] = []
        files: list[FileInfo] = []
        with os.scandir(full) as entries:
            for entry in entries:
                info = self._child_info(rel, full, entry)
                if info is not None:
                    (dirs if info.is_dir else files).append(info)
        dirs.sort(key=lambda i: i.path)
        files.sort(key=lambda i: i.path)
        return dirs + files

    def _child_info(self, rel: str, full: Path, entry: os.DirEntry[str]) -> FileInfo | None:
        # Entries that could not be fetched back are hidden: in-progress uploads, names the
        # path gate rejects, and symlinks that lead outside the root.
        if is_temp_name(entry.name):
            return None
        try:
            child_rel = safe_relpath(f"{rel}/{entry.name}" if rel else entry.name)
            resolved = ensure_within(self._root, full / entry.name)
        except InvalidParameterValue:
            return None
        if resolved.is_dir():
            return FileInfo(path=child_rel, is_dir=True, file_size=None)
        if not resolved.is_file():
            return None
        return FileInfo(path=child_rel, is_dir=False, file_size=resolved.stat().st_size)

    def exists(self, path: str) -> bool:
        return self._locate(path)[1].exists()

    def is_dir(self, path: str) -> bool:
        return self._locate(path)[1].is_dir()

    def size(self, path: str) -> int:
        return self._existing_file(path)[1].stat().st_size

    def iter_bytes(
        self, path: str, *, start: int = 0, end: int | None = None, chunk_size: int = 1 << 20
    ) -> Iterator[bytes]:
        _, full = self._existing_file(path)
        stop = check_range(start, end, full.stat().st_size)
        return _read_range(full, start, stop, chunk_size)

    def write_stream(self, path: str, chunks: Iterable[bytes]) -> int:
        rel, full = self._locate(path)
        if not rel:
            raise InvalidParameterValue("Invalid path: a file path is required")
        written = write_file_atomic(full, chunks)
        return written

    def upload_file(self, local_path: Path, path: str) -> None:
        transfer.upload_file(self, local_path, path)

    def upload_dir(self, local_dir: Path, path: str = "") -> None:
        transfer.upload_dir(self, local_dir, path)

    def download(self, path: str, dst_dir: Path) -> Path:
        return transfer.download(self, path, dst_dir)

    def remove_stale_uploads(
        self, *, older_than_seconds: float, dry_run: bool = False
    ) -> tuple[str, ...]:
        """Remove leftovers of interrupted uploads; returns their paths below the root."""
        removed = remove_stale_temp_files(
            self._root, older_than_seconds=older_than_seconds, dry_run=dry_run
        )
        return tuple(path.relative_to(self._root).as_posix() for path in removed)

    def delete(self, path: str = "") -> None:
        rel = safe_relpath(path)
        if not rel:
            if self._root.is_dir():
                for child in self._root.iterdir():
                    _remove(child)
            return
        # The parent is resolved, not the target: a symlink is removed itself, never followed.
        parent_rel, _, name = rel.rpartition("/")
        _, parent = self._locate(parent_rel)
        _remove(parent / name)


def _remove(target: Path) -> None:
    if target.is_symlink() or target.is_file():
        target.unlink(missing_ok=True)
    elif target.is_dir():
        shutil.rmtree(target)


def _read_range(full: Path, start: int, stop: int, chunk_size: int) -> Iterator[bytes]:
    with open(full, "rb") as fh:
        fh.seek(start)
        remaining = stop - start
        while remaining > 0:
            chunk = fh.read(min(chunk_size, remaining))
            if not chunk:
                return
            remaining -= len(chunk)
            yield chunk
