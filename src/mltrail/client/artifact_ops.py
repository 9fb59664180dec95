"""Client-side artifact handling: from a run's artifact URI to a store, and the
upload/list/download operations the client offers on it.

Local folders, ``file://`` and every fsspec URL go to :func:`mltrail.artifacts.open_artifact_store`;
``mlflow-artifacts:`` and ``http(s)://`` artifact URIs go through the tracking server's
artifact proxy. Every path a caller gives passes :func:`mltrail.artifacts.paths.safe_relpath`.
"""

from __future__ import annotations

import os
import posixpath
import tempfile
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


def log_file(
    store: ArtifactStore, local_path: str | os.PathLike[str], artifact_path: str | None
) -> None:
    path = Path(local_path)
    if not path.is_file():
        raise InvalidParameterValue(f"Cannot log artifact {str(path)!r}: not an existing file")
    store.upload_file(path, join_path(artifact_path, path.name))


def log_dir(
    store: ArtifactStore, local_dir: str | os.PathLike[str], artifact_path: str | None
) -> None:
    path = Path(local_dir)
    if not path.is_dir():
        raise InvalidParameterValue(
            f"Cannot log artifacts from {str(path)!r}: not an existing folder"
        )
    store.upload_dir(path, clean_path(artifact_path))


def log_bytes(store: ArtifactStore, data: bytes, artifact_file: str) -> None:
    target = clean_path(artifact_file)
    if not target:
        raise InvalidParameterValue("artifact_file must name a file, e.g. 'notes/summary.txt'")
    store.write_stream(target, [data])


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
