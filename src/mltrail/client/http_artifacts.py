"""Artifacts through a tracking server's artifact proxy (``--serve-artifacts``).

An artifact URI ``mlflow-artifacts:/1/<run_id>/artifacts`` names the path
``1/<run_id>/artifacts`` below the server's artifacts destination; every operation is a
request to ``/api/v1/artifacts/...``. The repository implements the ArtifactStore
protocol, so the shared folder upload/download code (which checks every received name
and never writes outside the destination folder) works over HTTP too.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from urllib.parse import quote, urlparse

from mltrail.artifacts import progress, transfer
from mltrail.artifacts.paths import join_relpath, safe_relpath
from mltrail.client.rest_http import HttpSession
from mltrail.config import Settings
from mltrail.entities import FileInfo
from mltrail.errors import ConfigurationError, InvalidParameterValue, ResourceDoesNotExist

API = "/api/v1"
CHUNK_BYTES = 1 << 20
_PROXY_SCHEMES = ("mlflow-artifacts", "mltrail-artifacts")
# Path prefixes of artifact URIs given as plain http(s) URLs of a server's proxy.
_HTTP_MARKERS = ("/api/2.0/mlflow-artifacts/artifacts", "/api/v1/artifacts")

_sessions: dict[tuple[object, ...], HttpSession] = {}
_sessions_lock = threading.Lock()


def _session(base_url: str, settings: Settings) -> HttpSession:
    # One connection pool per server, shared by every run's repository.
    key = (
        base_url,
        settings.tracking_username,
        settings.tracking_password,
        settings.tracking_token,
        settings.tracking_insecure_tls,
        settings.tracking_server_cert_path,
        settings.http_timeout,
        settings.http_max_retries,
    )
    with _sessions_lock:
        session = _sessions.get(key)
        if session is None:
            session = _sessions[key] = HttpSession(base_url, settings=settings)
        return session


def split_artifact_uri(artifact_uri: str, *, tracking_uri: str) -> tuple[str, str]:
    """(server base URL, path below the server's artifacts destination)."""
    parsed = urlparse(artifact_uri)
    scheme = parsed.scheme.lower()
    if scheme in _PROXY_SCHEMES:
        if parsed.netloc:
            tracking = urlparse(tracking_uri)
            base = f"{tracking.scheme or 'http'}://{parsed.netloc}"
        else:
            base = tracking_uri
        if not base.startswith(("http://", "https://")):
            raise ConfigurationError(
                f"Artifact URI {artifact_uri!r} is served by a tracking server, but the "
                f"tracking URI {tracking_uri!r} is not an http(s):// server"
            )
        return base.rstrip("/"), safe_relpath(parsed.path.lstrip("/"))
    if scheme in ("http", "https"):
        for marker in _HTTP_MARKERS:
            head, found, tail = parsed.path.partition(marker)
            if found:
                return f"{scheme}://{parsed.netloc}{head}", safe_relpath(tail.lstrip("/"))
    raise ConfigurationError(f"Not a proxied artifact URI: {artifact_uri!r}")


class HttpArtifactRepository:
    """The ArtifactStore protocol over ``/api/v1/artifacts`` of a tracking server."""

    def __init__(self, artifact_uri: str, *, tracking_uri: str, settings: Settings) -> None:
        self.artifact_uri = artifact_uri
        base_url, self.base = split_artifact_uri(artifact_uri, tracking_uri=tracking_uri)
        self.http = _session(base_url, settings)

    @property
    def root(self) -> str:
        return self.artifact_uri

    def _remote(self, path: str) -> str:
        return join_relpath(self.base, path) if self.base else safe_relpath(path)

    def _url(self, path: str) -> str:
        return f"{API}/artifacts/{quote(self._remote(path), safe='/')}"

    # -- reading -----------------------------------------------------------
    def list(self, path: str = "") -> list[FileInfo]:
        remote = self._remote(path)
        answer = self.http.call("GET", f"{API}/artifact-list", params={"path": remote})
        prefix = f"{self.base}/" if self.base else ""
        out: list[FileInfo] = []
        for entry in answer.get("files", []):
            full = safe_relpath(str(entry["path"]))
            if prefix and not full.startswith(prefix):
                raise InvalidParameterValue(
                    f"The server listed {full!r}, which is not under {self.base!r}"
                )
            out.append(
                FileInfo(
                    path=full[len(prefix) :],
                    is_dir=bool(entry["is_dir"]),
                    file_size=entry.get("file_size"),
                )
            )
        return out

    def _stat(self, path: str) -> FileInfo | None:
        rel = safe_relpath(path)
        if not rel:
            return FileInfo(path="", is_dir=True)
        parent = rel.rpartition("/")[0]
        for info in self.list(parent):
            if info.path == rel:
                return info
        return None

    def exists(self, path: str) -> bool:
        return self._stat(path) is not None

    def is_dir(self, path: str) -> bool:
        info = self._stat(path)
        return info is not None and info.is_dir

    def size(self, path: str) -> int:
        info = self._stat(path)
        if info is None or info.is_dir:
            raise ResourceDoesNotExist(f"Artifact {path!r} is not a file")
        return info.file_size or 0

    def iter_bytes(
        self, path: str, *, start: int = 0, end: int | None = None, chunk_size: int = CHUNK_BYTES
    ) -> Iterator[bytes]:
        headers: dict[str, str] = {}
        if start or end is not None:
            if end is not None and end <= start:
                return
            headers["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        with self.http.download(self._url(path), headers=headers) as response:
            yield from response.iter_bytes(chunk_size)

    # -- writing -----------------------------------------------------------
    def write_stream(self, path: str, chunks: Iterable[bytes]) -> int:
        replayable = isinstance(chunks, list | tuple | bytes)
        answer = self.http.upload(
            self._url(path), open_body=lambda: iter(chunks), replayable=replayable
        )
        return int(answer.get("bytes", 0))

    def upload_file(self, local_path: Path, path: str) -> None:
        if not local_path.is_file():
            raise InvalidParameterValue(f"Not a file: {str(local_path)!r}")

        size = local_path.stat().st_size

        def read() -> Iterator[bytes]:
            with local_path.open("rb") as f:
                while chunk := f.read(CHUNK_BYTES):
                    yield chunk

        def body() -> Iterator[bytes]:
            return progress.track(read(), total=size, label=local_path.name)

        self.http.upload(self._url(path), open_body=body, length=size)

    def upload_dir(self, local_dir: Path, path: str = "") -> None:
        transfer.upload_dir(self, local_dir, path)

    def download(self, path: str, dst_dir: Path) -> Path:
        return transfer.download(self, path, dst_dir)

    def delete(self, path: str = "") -> None:
        rel = safe_relpath(path)
        if rel:
            self.http.call("DELETE", self._url(rel))
            return
        for info in self.list(""):
            self.http.call("DELETE", self._url(info.path))
