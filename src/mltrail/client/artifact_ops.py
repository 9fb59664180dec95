"""Client-side artifact handling: from a run's artifact URI to a store, and the
upload/list/download operations the client offers on it.

Local folders, ``file://`` and every fsspec URL go to :func:`mltrail.artifacts.open_artifact_store`;
``mlflow-artifacts:`` and ``http(s)://`` artifact URIs go through the tracking server's
artifact proxy. Every path a caller gives passes :func:`mltrail.artifacts.paths.safe_relpath`.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

from mltrail.config import Settings
from mltrail.entities import FileInfo
from mltrail.errors import InvalidParameterValue, ResourceDoesNotExist

if TYPE_CHECKING:
    # Only for typing: the artifacts package may load fsspec when imported.
    from mltrail.artifacts.base import ArtifactStore

_PROXY_SCHEMES = ("mlflow-artifacts:", "mltrail-artifacts:", "http://", "https://")


def open_run_artifacts(
    artifact_uri: str, *, tracking_uri: str, settings: Settings
) -> ArtifactStore:
    """The artifact store rooted at a run's (or experiment's) artifact URI."""
    if artifact_uri.startswith(_PROXY_SCHEMES):
        from mltrail.client.http_artifacts import HttpArtifactRepository

        return cast(
            "ArtifactStore",
            HttpArtifactRepository(artifact_uri, tracking_uri=tracking_uri, settings=settings),
        )
    from mltrail.artifacts import open_artifact_store

    return open_artifact_store(artifact_uri, settings=settings)


def clean_path(path: str | None) -> str:
    """A caller's artifact path, checked; ``None``, ``""`` and ``"."`` mean the root."""
    if path is None:
        return ""
    if not isinstance(path, str):
        raise InvalidParameterValue(f"Artifact path must be a string, got {type(path).__name__}")
    if path in ("", ".", "./"):
        return ""
    from mltrail.artifacts.paths import safe_relpath

    return str(safe_relpath(path.rstrip("/")))


def join_path(artifact_path: str | None, name: str) -> str:
    """``artifact_path/name``, checked as a whole."""
    base = clean_path(artifact_path)
    return clean_path(posixpath.join(base, name) if base else name)


@dataclass(frozen=True)
class Upload:
    """Local content bound for a path under an artifact root: a file, a folder's content or
    bytes. Built (and checked) before anything goes over the network, so it can be sent
    now or kept in the offline spool and sent later."""

    target: str
    file: Path | None = None
    folder: Path | None = None
    data: bytes | None = None

    def size(self) -> int:
        from mltrail.client.spool import folder_bytes

        local = self.file or self.folder
        return folder_bytes(local) if local is not None else len(self.data or b"")

    def send(self, store: ArtifactStore) -> None:
        if self.file is not None:
            store.upload_file(self.file, self.target)
        elif self.folder is not None:
            store.upload_dir(self.folder, self.target)
        else:
            store.write_stream(self.target, [self.data or b""])

    def stage(self, root: Path) -> None:
        """Copy the content under ``root`` at its target path (``root`` mirrors the store)."""
        dest = root / self.target if self.target else root
        if self.folder is not None:
            shutil.copytree(self.folder, dest, dirs_exist_ok=True)
            return
        dest.parent.mkdir(parents=True, exist_ok=True)
        if self.file is not None:
            shutil.copyfile(self.file, dest)
        else:
            dest.write_bytes(self.data or b"")


def file_upload(local_path: str | os.PathLike[str], artifact_path: str | None) -> Upload:
    path = Path(local_path)
    if not path.is_file():
        raise InvalidParameterValue(f"Cannot log artifact {str(path)!r}: not an existing file")
    return Upload(join_path(artifact_path, path.name), file=path)


def dir_upload(local_dir: str | os.PathLike[str], artifact_path: str | None) -> Upload:
    path = Path(local_dir)
    if not path.is_dir():
        raise InvalidParameterValue(
            f"Cannot log artifacts from {str(path)!r}: not an existing folder"
        )
    return Upload(clean_path(artifact_path), folder=path)


def bytes_upload(data: bytes, artifact_file: str) -> Upload:
    target = clean_path(artifact_file)
    if not target:
        raise InvalidParameterValue("artifact_file must name a file, e.g. 'notes/summary.txt'")
    return Upload(target, data=data)


def log_dir(
    store: ArtifactStore, local_dir: str | os.PathLike[str], artifact_path: str | None
) -> None:
    dir_upload(local_dir, artifact_path).send(store)


def list_files(store: ArtifactStore, path: str | None) -> list[FileInfo]:
    return store.list(clean_path(path))


def download(
    store: ArtifactStore, path: str | None, dst_path: str | os.PathLike[str] | None
) -> str:
    """Copy ``path`` (a file or folder, ``""`` for everything) under ``dst_path`` (default: a
    new temporary folder), keeping its folders; returns the local path of ``path``."""
    rel = clean_path(path)
    dst = Path(dst_path) if dst_path is not None else Path(tempfile.mkdtemp(prefix="mltrail-"))
    dst.mkdir(parents=True, exist_ok=True)
    if not rel:
        for info in store.list(""):
            store.download(info.path, dst)
        return str(dst.resolve())
    if not store.exists(rel):
        raise ResourceDoesNotExist(f"Artifact {rel!r} does not exist")
    # Keep the artifact's folders, as MLflow does: "a/b" lands in dst/a/b.
    parent = rel.rpartition("/")[0]
    return str(store.download(rel, dst / parent if parent else dst).resolve())
