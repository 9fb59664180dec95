"""The dashboard's CSS, JavaScript, vendored libraries and icons under ``/static/``."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from mltrail.errors import ResourceDoesNotExist
from mltrail.server.ui.routing import PUBLIC, JsonRoute
from mltrail.server.ui.templating import STATIC_DIR

router = APIRouter(route_class=JsonRoute)

_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".txt": "text/plain; charset=utf-8",
}


@router.get("/static/{path:path}", include_in_schema=False, openapi_extra=PUBLIC)
def static_file(request: Request, path: str) -> Response:
    root = STATIC_DIR.resolve()
    parts = path.split("/")
    if any(p in ("", ".", "..") or "\\" in p for p in parts):
        raise ResourceDoesNotExist(f"No static file {path!r}")
    target = (root / path).resolve()
    suffix = target.suffix.lower()
    if root not in target.parents or not target.is_file() or suffix not in _TYPES:
        raise ResourceDoesNotExist(f"No static file {path!r}")
    response = FileResponse(target, media_type=_TYPES[suffix])
    # The files change only with a new mltrail version; revalidation is cheap (ETag).
    response.headers["Cache-Control"] = "public, max-age=300"
    return response
