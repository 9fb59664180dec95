"""Route classes of the UI: security headers on every answer, typed errors rendered for people.

Pages answer an HTML error page; ``/ui-api`` routes answer the usual JSON error body.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from mltrail.errors import MltrailError
from mltrail.server.json_route import WireRoute
from mltrail.server.ui.security import apply_security_headers

logger = logging.getLogger("mltrail.server.ui")

# The authorization rule of each route, read by the auth middleware (``x-mltrail-access``):
# pages and their data need a signed-in user whose rights the services check per resource;
# the static files are public (the login page uses them).
ACCESS_KEY = "x-mltrail-access"
PAGE = {ACCESS_KEY: "ui:page"}
EDIT = {ACCESS_KEY: "ui:edit"}
DATA = {ACCESS_KEY: "ui:data"}
PUBLIC = {ACCESS_KEY: "public"}

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class PageRoute(APIRoute):
    def get_route_handler(self) -> Handler:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                response = await original(request)
            except MltrailError as exc:
                from mltrail.server.ui.templating import render

                if exc.status >= 500:
                    logger.warning("%s: %s", exc.code, exc.message)
                response = render(
                    request,
                    "error.html",
                    status_code=exc.status,
                    title=_title(exc.status),
                    message=exc.message,
                )
            return apply_security_headers(response)

        return handler


class JsonRoute(WireRoute):
    def get_route_handler(self) -> Handler:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                response = await original(request)
            except MltrailError as exc:
                body: dict[str, Any] = exc.to_dict()
                response = JSONResponse(body, status_code=exc.status)
            response.headers.setdefault("Cache-Control", "no-store")
            return apply_security_headers(response)

        return handler


def _title(status: int) -> str:
    return {
        400: "That request is not valid",
        403: "Not allowed",
        404: "Not found",
    }.get(status, "Something went wrong")
