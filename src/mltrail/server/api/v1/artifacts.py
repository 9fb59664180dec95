"""/api/v1/artifacts/{path}: streaming upload, download (with Range), listing and deletion.

``path`` is relative to the server's artifacts destination: for an artifact URI
``mlflow-artifacts:/1/<run_id>/artifacts/model.pkl`` it is ``1/<run_id>/artifacts/model.pkl``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from urllib.parse import quote

import anyio
import anyio.from_thread
from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse

from mltrail.errors import InvalidParameterValue, MltrailError
from mltrail.server.access import ACCESS_KEY, access
from mltrail.server.api.v1.codec import JSONAnswer
from mltrail.server.api.v1.schemas import Empty, FileList, UploadAnswer
from mltrail.server.json_route import WireRoute
from mltrail.server.services import services_of
from mltrail.service.artifacts import ArtifactService

router = APIRouter(route_class=WireRoute, tags=["artifacts"])

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class ArtifactServingDisabled(MltrailError):
    code = "ENDPOINT_NOT_FOUND"
    status = 404


class RangeNotSatisfiable(MltrailError):
    code = "INVALID_PARAMETER_VALUE"
    status = 416


def _service(request: Request) -> ArtifactService:
    service = services_of(request).artifacts
    if service is None:
        raise ArtifactServingDisabled(
            "This server does not serve artifacts (it was started with --no-serve-artifacts)"
        )
    return service


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    """[start, end) for a single-range header, None to send the whole file."""
    match = _RANGE.match(header.strip())
    if match is None:
        # Multiple ranges or another unit: answering the whole file is allowed (RFC 9110).
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:
        length = int(last)
        if length == 0:
            raise RangeNotSatisfiable(f"Range {header!r} is empty")
        return max(size - length, 0), size
    start = int(first)
    end = min(int(last) + 1, size) if last else size
    if start >= size or (last and int(last) < start):
        raise RangeNotSatisfiable(f"Range {header!r} is outside the file of {size} bytes")
    return start, end


def _disposition(path: str) -> str:
    name = path.rsplit("/", 1)[-1] or "artifact"
    ascii_name = name.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"


def _list_answer(service: ArtifactService, path: str) -> Response:
    files = service.list(path)
    return JSONAnswer(
        {"files": [{"path": f.path, "is_dir": f.is_dir, "file_size": f.file_size} for f in files]}
    )


@router.get(
    "/artifact-list",
    response_model=FileList,
    summary="List a folder of artifacts",
    openapi_extra=access("artifact:read"),
)
def list_artifacts(request: Request, path: str = "") -> Response:
    return _list_answer(_service(request), path)


@router.get(
    "/artifacts/{path:path}",
    summary="Download an artifact (supports Range), or list a folder with ?list=1",
    responses={
        200: {"content": {"application/octet-stream": {}}, "description": "The file's bytes"},
        206: {"description": "The requested byte range"},
    },
    openapi_extra=access("artifact:read"),
)
async def download_artifact(
    path: str, request: Request, list_: bool = Query(default=False, alias="list")
) -> Response:
    service = _service(request)
    if list_:
        return await run_in_threadpool(_list_answer, service, path)
    _probe, size, content_type = await run_in_threadpool(service.open, path, 0, 0)
    close = getattr(_probe, "close", None)
    if close is not None:
        close()
    header = request.headers.get("range")
    byte_range = _parse_range(header, size) if header else None
    start, end = byte_range if byte_range else (0, size)
    chunks, _size, _type = await run_in_threadpool(service.open, path, start, end)
    headers = {
        "Accept-Ranges": "bytes",
        "Content-Length": str(end - start),
        "Content-Disposition": _disposition(path),
    }
    status = 200
    if byte_range is not None:
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    return StreamingResponse(chunks, status_code=status, headers=headers, media_type=content_type)


def _pull(stream: AsyncIterator[bytes]) -> Iterator[bytes]:
    """The request body as a blocking iterator for a worker thread, one chunk at a time."""

    async def next_chunk() -> bytes:
        return await stream.__anext__()

    while True:
        try:
            chunk = anyio.from_thread.run(next_chunk)
        except StopAsyncIteration:
            return
        if chunk:
            yield chunk


@router.put(
    "/artifacts/{path:path}",
    response_model=UploadAnswer,
    summary="Upload an artifact (the raw request body, streamed to storage)",
    openapi_extra={
        ACCESS_KEY: "artifact:edit",
        "requestBody": {
            "required": True,
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        },
    },
)
async def upload_artifact(path: str, request: Request) -> Response:
    service = _service(request)
    if not path.strip("/"):
        raise InvalidParameterValue("Invalid path: a file path below the artifact root is required")
    stream = request.stream().__aiter__()
    written = await anyio.to_thread.run_sync(lambda: service.put(path, _pull(stream)))
    return JSONAnswer({"path": path, "bytes": written})


@router.delete(
    "/artifacts/{path:path}",
    response_model=Empty,
    summary="Delete an artifact or a folder",
    openapi_extra=access("artifact:delete"),
)
def delete_artifact(path: str, request: Request) -> Response:
    _service(request).delete(path)
    return JSONAnswer({})
