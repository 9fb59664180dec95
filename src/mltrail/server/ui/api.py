"""JSON the page scripts fetch: downsampled metric histories and the artifact browser."""

from __future__ import annotations

import math
from pathlib import PurePosixPath
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from mltrail.artifacts import safe_relpath
from mltrail.errors import InvalidParameterValue
from mltrail.server.artifact_access import run_artifacts
from mltrail.server.services import services_of
from mltrail.server.ui.previews import IMAGE_TYPES, preview
from mltrail.server.ui.routing import DATA, JsonRoute

router = APIRouter(prefix="/ui-api", route_class=JsonRoute)

MAX_POINTS = 5000
DEFAULT_POINTS = 1000
RAW_CSP = "default-src 'none'; sandbox"


def _required(request: Request, name: str) -> str:
    value = request.query_params.get(name)
    if not value:
        raise InvalidParameterValue(f"Missing value for required parameter '{name}'")
    return value


def _int(request: Request, name: str, default: int | None) -> int | None:
    text = request.query_params.get(name, "")
    if text == "":
        return default
    try:
        return int(float(text))
    except ValueError as exc:
        raise InvalidParameterValue(f"Parameter '{name}' must be a number, got {text!r}") from exc


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


@router.get("/metric-history", include_in_schema=False, openapi_extra=DATA)
def metric_history(request: Request) -> Response:
    """A metric's history reduced to about ``max_points`` points, keeping spikes."""
    run_id = _required(request, "run_id")
    key = _required(request, "key")
    max_points = _int(request, "max_points", DEFAULT_POINTS) or DEFAULT_POINTS
    max_points = max(10, min(max_points, MAX_POINTS))
    start = _int(request, "start_step", None)
    end = _int(request, "end_step", None)
    points = services_of(request).tracking.get_metric_history_sampled(
        run_id, key=key, max_points=max_points, start_step=start, end_step=end
    )
    body: dict[str, Any] = {
        "run_id": run_id,
        "key": key,
        "steps": [p.step for p in points],
        "timestamps": [p.timestamp for p in points],
        # JSON has no NaN/Infinity: they become gaps, and are counted for the chart's note.
        "values": [_finite(p.value) for p in points],
        "non_finite": sum(1 for p in points if not math.isfinite(p.value)),
    }
    return JSONResponse(body)


@router.get("/artifacts", include_in_schema=False, openapi_extra=DATA)
def list_artifacts(request: Request) -> Response:
    services = services_of(request)
    run = services.tracking.get_run(_required(request, "run_id"))
    path = safe_relpath(request.query_params.get("path", ""))
    files = run_artifacts(services, run.info.artifact_uri).list(path)
    return JSONResponse(
        {
            "path": path,
            "files": [
                {
                    "path": f.path,
                    "name": PurePosixPath(f.path).name,
                    "is_dir": f.is_dir,
                    "size": f.file_size,
                }
                for f in files
            ],
        }
    )


@router.get("/artifact-preview", include_in_schema=False, openapi_extra=DATA)
def artifact_preview(request: Request) -> Response:
    services = services_of(request)
    run = services.tracking.get_run(_required(request, "run_id"))
    path = safe_relpath(_required(request, "path"))
    return JSONResponse(preview(run_artifacts(services, run.info.artifact_uri), path))


@router.get("/artifact-raw", include_in_schema=False, openapi_extra=DATA)
def artifact_raw(request: Request) -> Response:
    """The file's bytes: images inline (for previews), everything else as a download."""
    services = services_of(request)
    run = services.tracking.get_run(_required(request, "run_id"))
    path = safe_relpath(_required(request, "path"))
    artifacts = run_artifacts(services, run.info.artifact_uri)
    size = artifacts.size(path)
    full = artifacts.location_of(path)
    name = PurePosixPath(path).name
    suffix = PurePosixPath(path).suffix.lower()
    safe_name = "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "artifact"
    if suffix in IMAGE_TYPES:
        media_type = IMAGE_TYPES[suffix]
        disposition = f'inline; filename="{safe_name}"'
    else:
        media_type = "application/octet-stream"
        disposition = f'attachment; filename="{safe_name}"'
    return StreamingResponse(
        artifacts.store.iter_bytes(full),
        media_type=media_type,
        headers={
            "Content-Length": str(size),
            "Content-Disposition": disposition,
            # Even if a browser is tricked into rendering it, nothing may run.
            "Content-Security-Policy": RAW_CSP,
            "Cache-Control": "private, max-age=60",
        },
    )
