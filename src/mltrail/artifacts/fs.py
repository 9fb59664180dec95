"""Artifact store on any fsspec URL (s3://, gs://, abfs://, memory://, ...).

Uploads are buffered per block: once a file outgrows one block, s3fs / gcsfs / adlfs switch to a
multipart (resumable, block-list) upload, so memory stays at about one block whatever the file
size. The block size is the driver's default (s3fs: 50 MiB) unless ``block_size`` is given; S3
refuses parts under 5 MiB.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import fsspec

from mltrail.artifacts import transfer
from mltrail.artifacts.local import check_range
from mltrail.artifacts.localfile import is_temp_name, temp_name
from mltrail.artifacts.paths import safe_relpath
from mltrail.entities import FileInfo
from mltrail.errors import ConfigurationError, InvalidParameterValue, ResourceDoesNotExist

# On object stores a rename is a copy plus a delete, while a single object only appears once its
# upload completes; so there the final key is written directly.
OBJECT_STORE_PROTOCOLS = frozenset(
    {"s3", "s3a", "gs", "gcs", "abfs", "abfss", "az", "adl", "oss", "r2", "wasb", "wasbs"}
)
_OPTIONAL_DRIVERS = {
    "s3": "s3",
    "s3a": "s3",
    "gs": "gcs",
    "gcs": "gcs",
    "abfs": "azure",
    "abfss": "azure",
    "az": "azure",
    "wasb": "azure",
    "wasbs": "azure",
}
# MLflow names Azure roots wasbs://<container>@<account>.blob.core.windows.net/<path>; adlfs
# reads that same form under its own scheme.
_SCHEME_ALIASES = {"wasb": "abfs", "wasbs": "abfs"}
# Schemes whose driver keeps a listing cache per process. A server with several workers, or a
# bucket written by other clients, would see stale listings, so it is off unless asked for.
_LISTING_CACHE_SCHEMES = frozenset(OBJECT_STORE_PROTOCOLS)


def _protocols(fs: Any) -> tuple[str, ...]:
    proto = fs.protocol
    return (proto,) if isinstance(proto, str) else tuple(proto)


def open_filesystem(url: str, storage_options: Mapping[str, Any]) -> tuple[Any, str]:
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme in _SCHEME_ALIASES:
        url = _SCHEME_ALIASES[scheme] + url[len(scheme) :]
    options = dict(storage_options)
    if scheme in _LISTING_CACHE_SCHEMES:
        options.setdefault("use_listings_cache", False)
    try:
        fs, base = fsspec.core.url_to_fs(url, **options)
    except ImportError as exc:
        extra = _OPTIONAL_DRIVERS.get(scheme)
        hint = f" Install it with: pip install 'mltrail[{extra}]'" if extra else ""
        raise ConfigurationError(
            f"The driver for {scheme}:// artifact roots is not installed.{hint}"
        ) from exc
    except ValueError as exc:
        # A known driver refusing its options (e.g. no Azure credentials) is not an unknown scheme.
        what = "Cannot open" if scheme in fsspec.available_protocols() else "Unsupported"
        raise ConfigurationError(f"{what} artifact root {url!r}: {exc}") from exc
    return fs, str(base)


class FsspecArtifactStore:
    def __init__(
        self,
        url: str,
        *,
        storage_options: Mapping[str, Any] | None = None,
        block_size: int | None = None,
    ) -> None:
        if block_size is not None and block_size <= 0:
            raise InvalidParameterValue(f"block_size must be positive, got {block_size}")
        self._url = url.rstrip("/")
        self._block_size = block_size
        self._fs, base = open_filesystem(url, storage_options or {})
        self._base = base.rstrip("/")
        self._atomic_objects = bool(OBJECT_STORE_PROTOCOLS.intersection(_protocols(self._fs)))

    @property
    def root(self) -> str:
        return self._url

    def _full(self, rel: str) -> str:
        # ``rel`` passed safe_relpath: no "..", no leading "/", so the join stays under the base.
        return f"{self._base}/{rel}" if rel else self._base

    def _existing_file(self, path: str) -> tuple[str, str]:
        rel = safe_relpath(path)
        full = self._full(rel)
        if not rel or self._fs.isdir(full):
            raise InvalidParameterValue(f"Artifact {rel!r} is a folder, not a file")
        if not self._fs.exists(full):
            raise ResourceDoesNotExist(f"Artifact {rel!r} does not exist")
        return rel, full

    def list(self, path: str = "") -> list[FileInfo]:
        rel = safe_relpath(path)
        full = self._full(rel)
        if not self._fs.isdir(full):
            return []
        dirs: list[FileInfo] = []
        files: list[FileInfo] = []
        for entry in self._fs.ls(full, detail=True, refresh=True):
            name = entry["name"].rstrip("/").rsplit("/", 1)[-1]
            if not name or is_temp_name(name):
                continue
            try:
                child = safe_relpath(f"{rel}/{name}" if rel else name)
            except InvalidParameterValue:
                continue
            if entry.get("type") == "directory":
                dirs.append(FileInfo(path=child, is_dir=True, file_size=None))
            else:
                files.append(
                    FileInfo(path=child, is_dir=False, file_size=int(entry.get("size") or 0))
                )
        dirs.sort(key=lambda i: i.path)
        files.sort(key=lambda i: i.path)
        return dirs + files

    def exists(self, path: str) -> bool:
        return bool(self._fs.exists(self._full(safe_relpath(path))))

    def is_dir(self, path: str) -> bool:
        return bool(self._fs.isdir(self._full(safe_relpath(path))))

    def size(self, path: str) -> int:
        return int(self._fs.size(self._existing_file(path)[1]))

    def iter_bytes(
        self, path: str, *, start: int = 0, end: int | None = None, chunk_size: int = 1 << 20
    ) -> Iterator[bytes]:
        _, full = self._existing_file(path)
        stop = check_range(start, end, int(self._fs.size(full)))
        return self._read_range(full, start, stop, chunk_size)

    def _read_range(self, full: str, start: int, stop: int, chunk_size: int) -> Iterator[bytes]:
        with self._fs.open(full, "rb") as fh:
            fh.seek(start)
            remaining = stop - start
            while remaining > 0:
                chunk = fh.read(min(chunk_size, remaining))
                if not chunk:
                    return
                remaining -= len(chunk)
                yield chunk

    def write_stream(self, path: str, chunks: Iterable[bytes]) -> int:
        rel = safe_relpath(path)
        if not rel:
            raise InvalidParameterValue("Invalid path: a file path is required")
        full = self._full(rel)
        if self._fs.isdir(full):
            raise InvalidParameterValue(f"Invalid path: {rel!r} is a folder")
        if self._atomic_objects:
            return self._write_object(full, chunks)
        parent, _, name = full.rpartition("/")
        self._fs.makedirs(parent, exist_ok=True)
        tmp = f"{parent}/{temp_name(name)}"
        try:
            written = self._write_object(tmp, chunks)
            self._fs.mv(tmp, full)
        except BaseException:
            with contextlib.suppress(Exception):
                if self._fs.exists(tmp):
                    self._fs.rm(tmp)
            raise
        return written

    def _write_object(self, full: str, chunks: Iterable[bytes]) -> int:
        # Closing an fsspec file commits it, so on error the upload is discarded instead and
        # nothing appears under ``full``. s3fs aborts a multipart upload; Azure has no call to
        # drop staged blocks, so adlfs leaves them uncommitted (never part of a blob) until Azure
        # deletes them after 7 days or the next upload of that name commits its own.
        options: dict[str, Any] = {}
        if self._block_size is not None:
            options["block_size"] = self._block_size
        fh = self._fs.open(full, "wb", **options)
        written = 0
        try:
            for chunk in chunks:
                fh.write(chunk)
                written += len(chunk)
        except BaseException:
            # Buffered fsspec files (s3fs, gcsfs, adlfs) all have discard(); a file without it is
            # left unclosed rather than committed half-written.
            discard = getattr(fh, "discard", None)
            if discard is not None:
                with contextlib.suppress(Exception):
                    discard()
                # A discarded file must not be flushed (committed) when it is garbage-collected.
                with contextlib.suppress(Exception):
                    fh.closed = True
            raise
        fh.close()
        return written

    def upload_file(self, local_path: Path, path: str) -> None:
        transfer.upload_file(self, local_path, path)

    def upload_dir(self, local_dir: Path, path: str = "") -> None:
        transfer.upload_dir(self, local_dir, path)

    def download(self, path: str, dst_dir: Path) -> Path:
        return transfer.download(self, path, dst_dir)

    def delete(self, path: str = "") -> None:
        rel = safe_relpath(path)
        full = self._full(rel)
        if not rel:
            for info in self.list():
                self.delete(info.path)
            return
        if self._fs.isdir(full):
            self._fs.rm(full, recursive=True)
        elif self._fs.exists(full):
            self._fs.rm(full)
