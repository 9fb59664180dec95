"""Artifact routes of MLflow's web UI that read and write through a run or model's own root.

``/get-artifact`` and ``/model-versions/get-artifact`` (at the server root, as in MLflow),
``ajax-api/.../upload-artifact``, and the logged-model artifact listing and download. Unlike
``mlflow-artifacts/...`` (paths under the proxy's destination), these name a run, a model
version or a logged model; the permission-checked services resolve that name first (a
caller who may not read it gets the answer for a missing one), then the files are read
from its artifact location: the proxy's destination for ``mlflow-artifacts:`` URIs, the
location itself otherwise, after the same stored-URI and path-safety checks as the
dashboard (:mod:`mltrail.server.artifact_access`).
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse

from mltrail.artifacts.content_types import guess_content_type
from mltrail.artifacts.paths import safe_relpath
from mltrail.errors import BadRequest, InvalidParameterValue
from mltrail.server.api.mlflow import codec
from mltrail.server.api.mlflow.artifacts import RangeNotSatisfiable, byte_range
from mltrail.server.api.mlflow.routing import Call, MlflowRouter
from mltrail.server.api.mlflow.schema import STRING
from mltrail.server.artifact_access import RunArtifacts, run_artifacts
from mltrail.server.services import Services

_router = MlflowRouter()

# MLflow's limit for files uploaded from its web UI.
UPLOAD_MAX_BYTES = 10 * 1024 * 1024
RUNS_PREFIX = "runs:/"


def router() -> MlflowRouter:
    return _router


def _safe(path: str) -> str:
    return safe_relpath(path)


def _send(artifacts: RunArtifacts, path: str, range_header: str | None) -> Response:
    """The file as a download (MLflow always answers artifacts as attachments)."""
    full = artifacts.location_of(path)
    size = artifacts.store.size(full)
    try:
        wanted = byte_range(range_header, size)
    except RangeNotSatisfiable:
        return Response(status_code=416, headers={"Content-Range": f"bytes */{size}"})
    name = posixpath.basename(path)
    headers = {
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}",
        "X-Content-Type-Options": "nosniff",
        "Accept-Ranges": "bytes",
    }
    media_type = guess_content_type(path)
    if wanted is None:
        headers["Content-Length"] = str(size)
        return StreamingResponse(
            artifacts.store.iter_bytes(full), media_type=media_type, headers=headers
        )
    start, end = wanted
    headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    headers["Content-Length"] = str(end - start)
    part: Iterator[bytes] = artifacts.store.iter_bytes(full, start=start, end=end)
    return StreamingResponse(part, status_code=206, media_type=media_type, headers=headers)


def _services(call: Call) -> Services:
    services: Services = call.services
    return services


@_router.rpc("GET", "/get-artifact", access="run:read", version=0)
def get_artifact(call: Call) -> Response:
    args = call.args
    path = _safe(args.required_string("path", allow_empty=True))
    run_id = args.optional_string("run_id") or args.required_string("run_uuid")
    run = call.tracking.get_run(run_id)
    artifacts = run_artifacts(_services(call), run.info.artifact_uri)
    return _send(artifacts, path, call.request.headers.get("range"))


@_router.rpc("GET", "/model-versions/get-artifact", access="registered_model:read", version=0)
def get_model_version_artifact(call: Call) -> Response:
    args = call.args
    path = _safe(args.required_string("path", allow_empty=True))
    uri = _services(call).registry.get_model_version_download_uri(
        args.required_string("name"), version=args.required_string("version")
    )
    if uri.startswith(RUNS_PREFIX):
        # A source kept as runs:/<run_id>/<path> (its run was unknown when registered).
        run_id, _, inner = uri[len(RUNS_PREFIX) :].partition("/")
        uri = call.tracking.get_run(run_id).info.artifact_uri
        path = "/".join(p for p in (_safe(inner), path) if p)
    artifacts = run_artifacts(_services(call), uri)
    return _send(artifacts, path, call.request.headers.get("range"))


@_router.rpc(
    "GET",
    "/mlflow/logged-models/{model_id}/artifacts/directories",
    access="logged_model:read",
    schema=(("artifact_directory_path", STRING),),
)
def list_logged_model_artifacts(call: Call) -> dict[str, Any]:
    path = _safe(call.args.string("artifact_directory_path"))
    model = _services(call).logged_models.get_logged_model(call.path["model_id"])
    files = run_artifacts(_services(call), model.artifact_location).list(path)
    return codec.compact(
        {"files": [codec.file_info(f) for f in files], "root_uri": model.artifact_location}
    )


@_router.rpc(
    "GET",
    "/mlflow/logged-models/{model_id}/artifacts/files",
    access="logged_model:read",
    api=False,
)
def get_logged_model_artifact(call: Call) -> Response:
    wanted = call.args.optional_string("artifact_file_path")
    if not wanted:
        raise BadRequest('Request must include the "artifact_file_path" query parameter.')
    path = _safe(wanted)
    model = _services(call).logged_models.get_logged_model(call.path["model_id"])
    artifacts = run_artifacts(_services(call), model.artifact_location)
    return _send(artifacts, path, call.request.headers.get("range"))


async def _read_upload(call: Call) -> bytes:
    """The request body, refused past MLflow's size limit (without reading more than that)."""
    too_large = InvalidParameterValue("Artifact size is too large. Max size is 10MB.")
    declared = call.request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > UPLOAD_MAX_BYTES:
        raise too_large
    data = bytearray()
    async for chunk in call.request.stream():
        data.extend(chunk)
        if len(data) > UPLOAD_MAX_BYTES:
            raise too_large
    return bytes(data)


@_router.rpc("POST", "/mlflow/upload-artifact", access="run:edit", api=False, raw_body=True)
async def upload_artifact(call: Call) -> Response:
    args = call.args
    run_id = args.optional_string("run_uuid")
    if not run_id:
        raise InvalidParameterValue("Request must specify run_uuid.")
    wanted = args.optional_string("path")
    if not wanted:
        raise InvalidParameterValue("Request must specify path.")
    path = _safe(wanted)
    if not path:
        raise InvalidParameterValue("Invalid path")
    data = await _read_upload(call)
    if not data:
        raise InvalidParameterValue("Request must specify data.")

    def write() -> None:
        # An empty batch checks that the caller may edit the run and that it is active.
        call.tracking.log_batch(run_id)
        run = call.tracking.get_run(run_id)
        artifacts = run_artifacts(_services(call), run.info.artifact_uri)
        artifacts.store.write_stream(artifacts.full_path(path), iter([data]))

    await run_in_threadpool(write)
    return Response(media_type="application/json")  # MLflow answers an empty body
