"""Writing local files so that a reader never sees a half-written file under its real name."""

from __future__ import annotations

import contextlib
import errno
import os
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

from mltrail.errors import InvalidParameterValue, StorageFull

PART_MARKER = ".part-"
# Longest prefix of the final name kept in the temporary name, so that it stays under NAME_MAX.
_NAME_KEEP = 120


def temp_name(name: str) -> str:
    return f".{name[:_NAME_KEEP]}{PART_MARKER}{uuid.uuid4().hex}"


def is_temp_name(name: str) -> bool:
    return name.startswith(".") and PART_MARKER in name


def write_file_atomic(dest: Path, chunks: Iterable[bytes]) -> int:
    """Write ``chunks`` to ``dest`` via a temporary sibling, fsync, rename; returns bytes written.

    On any error (including one raised by the chunk iterator) the temporary file is removed and
    ``dest`` is left as it was.
    """
    if dest.is_dir():
        raise InvalidParameterValue(f"Invalid path: {dest.name!r} is a folder")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as exc:
        raise InvalidParameterValue(
            f"Invalid path: a parent of {dest.name!r} is a file, not a folder"
        ) from exc
    tmp = dest.parent / temp_name(dest.name)
    written = 0
    try:
        with open(tmp, "xb") as fh:
            for chunk in chunks:
                fh.write(chunk)
                written += len(chunk)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, dest)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise StorageFull(f"No space left while writing {dest.name!r}") from exc
        raise
    _fsync_dir(dest.parent)
    return written


def _fsync_dir(folder: Path) -> None:
    # Makes the rename itself durable; not possible on every platform, hence best effort.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def read_file_chunks(local_path: Path, *, chunk_size: int = 1 << 20) -> Iterator[bytes]:
    with open(local_path, "rb") as fh:
        while chunk := fh.read(chunk_size):
            yield chunk


def remove_stale_temp_files(
    root: Path, *, older_than_seconds: float, dry_run: bool = False
) -> list[Path]:
    """Remove temporary upload files under ``root`` not written to for ``older_than_seconds``.

    A server killed mid-upload leaves its temporary file behind; the final name never
    appeared, so removing it loses nothing. An upload in progress keeps its file's
    modification time fresh, so a threshold well above the slowest chunk spares it.
    Symlinked folders are not followed. Returns the files removed (with ``dry_run``: the
    files that would be).
    """
    removed: list[Path] = []
    if not root.is_dir():
        return removed
    cutoff = time.time() - older_than_seconds
    for folder, _dirs, files in os.walk(root):
        for name in files:
            if not is_temp_name(name):
                continue
            path = Path(folder) / name
            with contextlib.suppress(FileNotFoundError):
                if path.is_symlink() or path.stat().st_mtime > cutoff:
                    continue
                if not dry_run:
                    path.unlink()
                removed.append(path)
    return removed
