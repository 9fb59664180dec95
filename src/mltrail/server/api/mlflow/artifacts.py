"""Proxied artifacts (``/mlflow-artifacts/artifacts...``) and the tracking ``artifacts/list``.

Uploads stream: request chunks are handed to the artifact service as they arrive, and the
service's blocking writes run in a worker thread. Downloads stream too, with Range support.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlparse

import anyio.from_thread
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse

from mltrail.artifacts.paths import check_stored_uri, join_relpath, safe_relpath
from mltrail.errors import InvalidParameterValue
from mltrail.server.api.mlflow import codec
from mltrail.server.api.mlflow.routing import Call, MlflowRouter
from mltrail.server.api.mlflow.runs import run_id_of
from mltrail.server.api.mlflow.schema import REQUIRED, STRING

_router = MlflowRouter()

PROXY_SCHEME = "mlflow-artifacts"
_HTTP_PROXY_MARKER = "/api/2.0/mlflow-artifacts/artifacts"
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def router() -> MlflowRouter:
    return _router


@_router.rpc(
    "PUT", "/mlflow-artifacts/artifacts/{path:path}", access="artifact:edit", raw_body=True
)
async def upload_artifact(call: Call) -> dict[str, Any]:
    service = call.artifacts
    path = call.path["path"]
    stream = call.request.stream().__aiter__()

    async def next_chunk() -> bytes:
        return await stream.__anext__()

    def chunks() -> Iterator[bytes]:
        # Runs in the worker thread: each chunk is fetched from the event loop on demand,
        # so memory holds one chunk at a time whatever the upload size.
        while True:
            try:
                chunk = anyio.from_thread.run(next_chunk)
            except StopAsyncIteration:
                return
            if chunk:
                yield chunk

    await run_in_threadpool(service.put, path, chunks())
    return {}


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """[start, end) of a single ``bytes=`` range, None for the whole file."""
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if not match or match.group(0) == "bytes=-":
        return None
    first, last = match.group(1), match.group(2)
    if first:
        start = int(first)
        end = min(int(last) + 1, size) if last else size
    else:
        start, end = max(size - int(last), 0), size
    if start >= size or start >= end:
        raise RangeNotSatisfiable(size)
    return start, end


class RangeNotSatisfiable(Exception):
    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


@_router.rpc("GET", "/mlflow-artifacts/artifacts/{path:path}", access="artifact:read")
async def download_artifact(call: Call) -> Response:
    service = call.artifacts
    path = call.path["path"]
    # Open once to learn the size (and fail with a JSON 404 before any byte is sent).
    chunks, size, content_type = await run_in_threadpool(service.open, path)
    try:
        wanted = byte_range(call.request.headers.get("range"), size)
    except RangeNotSatisfiable:
        _close(chunks)
        return Response(status_code=416, headers={"Content-Range": f"bytes */{size}"})
    name = posixpath.basename(safe_relpath(path))
    headers = {
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}; "
        f'filename="{_ascii_name(name)}"',
        "X-Content-Type-Options": "nosniff",
        "Accept-Ranges": "bytes",
    }
    if wanted is None:
        headers["Content-Length"] = str(size)
        return StreamingResponse(chunks, media_type=content_type, headers=headers)
    _close(chunks)
    start, end = wanted
    part, _, _ = await run_in_threadpool(service.open, path, start, end)
    headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    headers["Content-Length"] = str(end - start)
    return StreamingResponse(part, status_code=206, media_type=content_type, headers=headers)


def _ascii_name(name: str) -> str:
    return "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\' else "_" for ch in name)


def _close(chunks: Iterator[bytes]) -> None:
    close = getattr(chunks, "close", None)
    if close is not None:
        close()


@_router.rpc("GET", "/mlflow-artifacts/artifacts", access="artifact:read")
def list_artifacts(call: Call) -> dict[str, Any]:
    directory = call.args.string("path")
    files = call.artifacts.list(directory)
    # The proxy lists basenames; the client prefixes them with the folder it asked for.
    return codec.compact(
        {"files": [codec.file_info(f, path=posixpath.basename(f.path)) for f in files]}
    )


@_router.rpc("DELETE", "/mlflow-artifacts/artifacts/{path:path}", access="artifact:delete")
def delete_artifact(call: Call) -> dict[str, Any]:
    call.artifacts.delete(call.path["path"])
    return {}


def proxied_path(artifact_uri: str) -> str | None:
    """The location under the proxy's destination of an ``mlflow-artifacts:`` URI, else None."""
    parsed = urlparse(artifact_uri)
    if parsed.scheme == PROXY_SCHEME:
        return safe_relpath(parsed.path.lstrip("/"))
    if parsed.scheme in ("http", "https") and _HTTP_PROXY_MARKER in parsed.path:
        rest = parsed.path.split(_HTTP_PROXY_MARKER, 1)[1]
        return safe_relpath(rest.lstrip("/"))
    return None


@_router.rpc(
    "GET",
    "/mlflow/artifacts/list",
    access="run:read",
    schema=(("run_id", STRING, REQUIRED), ("path", STRING), ("page_token", STRING)),
)
def list_run_artifacts(call: Call) -> dict[str, Any]:
    args = call.args
    run = call.tracking.get_run(run_id_of(args))
    relative = safe_relpath(args.string("path"))
    root_uri = run.info.artifact_uri
    check_stored_uri(
        root_uri, allowed_roots=call.services.allowed_artifact_roots, what="artifact location"
    )
    base = proxied_path(root_uri)
    if base is None:
        raise InvalidParameterValue(
            f"Listing is only available for proxied artifact locations (mlflow-artifacts:/...); "
            f"the artifacts of run {run.info.run_id} are at {root_uri}."
        )
    files = call.artifacts.list(join_relpath(base, relative))
    entries = [
        codec.file_info(f, path=join_relpath(relative, posixpath.basename(f.path))) for f in files
    ]
    return codec.compact({"root_uri": root_uri, "files": entries})
