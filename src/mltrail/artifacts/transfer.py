"""Folder uploads and downloads written once against the ArtifactStore protocol.

Large single files show a progress bar on a terminal (see :mod:`mltrail.artifacts.progress`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

from mltrail.artifacts import progress
from mltrail.artifacts.base import ArtifactStore
from mltrail.artifacts.localfile import read_file_chunks, write_file_atomic
from mltrail.artifacts.paths import join_relpath, safe_join, safe_relpath
from mltrail.errors import InvalidParameterValue, ResourceDoesNotExist


def local_files(local_dir: Path) -> Iterator[tuple[Path, str]]:
    """Every regular file under ``local_dir`` with its posix path relative to it, sorted."""
    if not local_dir.is_dir():
        raise InvalidParameterValue(f"Not a folder: {str(local_dir)!r}")
    for current, dirs, files in os.walk(local_dir):
        dirs.sort()
        base = Path(current)
        for name in sorted(files):
            full = base / name
            if full.is_file():
                yield full, full.relative_to(local_dir).as_posix()


def upload_dir(store: ArtifactStore, local_dir: Path, path: str = "") -> None:
    prefix = safe_relpath(path)
    for full, rel in local_files(local_dir):
        store.upload_file(full, join_relpath(prefix, rel))


def upload_file(store: ArtifactStore, local_path: Path, path: str) -> None:
    """Stream one local file into ``store``, with a progress bar when it is large."""
    if not local_path.is_file():
        raise InvalidParameterValue(f"Not a file: {str(local_path)!r}")
    chunks = read_file_chunks(local_path)
    size = local_path.stat().st_size
    store.write_stream(path, progress.track(chunks, total=size, label=local_path.name))


def _remote_chunks(store: ArtifactStore, path: str, size: int | None) -> Iterator[bytes]:
    # The size is only looked up (one more request on a remote store) when a bar can be shown.
    if size is None and progress.is_terminal(sys.stderr):
        size = store.size(path)
    return progress.track(store.iter_bytes(path), total=size, label=path)


def walk_files(store: ArtifactStore, path: str) -> Iterator[str]:
    """Paths (relative to the store root) of every file under the folder ``path``."""
    for path_, _ in walk_file_sizes(store, path):
        yield path_


def walk_file_sizes(store: ArtifactStore, path: str) -> Iterator[tuple[str, int | None]]:
    """(path, size as listed) of every file under the folder ``path``."""
    for info in store.list(path):
        if info.is_dir:
            yield from walk_file_sizes(store, info.path)
        else:
            yield info.path, info.file_size


def download(store: ArtifactStore, path: str, dst_dir: Path) -> Path:
    """Copy a file or folder of ``store`` under ``dst_dir``; every local name is re-checked."""
    rel = safe_relpath(path)
    dst_dir.mkdir(parents=True, exist_ok=True)
    if rel and not store.exists(rel):
        raise ResourceDoesNotExist(f"Artifact {rel!r} does not exist")
    base = rel.rsplit("/", 1)[-1]
    if rel and not store.is_dir(rel):
        target = safe_join(dst_dir, base)
        write_file_atomic(target, _remote_chunks(store, rel, None))
        return target
    local_root = safe_join(dst_dir, base) if rel else dst_dir.resolve()
    local_root.mkdir(parents=True, exist_ok=True)
    for file_path, size in walk_file_sizes(store, rel):
        inner = file_path[len(rel) :].lstrip("/") if rel else file_path
        target = safe_join(local_root, inner)
        write_file_atomic(target, _remote_chunks(store, file_path, size))
    return local_root
