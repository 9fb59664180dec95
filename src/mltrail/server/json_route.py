"""The route class of every FastAPI route that reads a JSON body: the body is decoded by the
one wire decoder (:func:`mltrail.wire.decode_json`), so hostile bodies (nested thousands deep,
lone surrogates) are a 400 here exactly as on the MLflow routes."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from mltrail.errors import MalformedRequest
from mltrail.wire import MALFORMED, decode_json

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class WireRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            try:
                self._json = decode_json(body)
            except MalformedRequest as exc:
                # FastAPI answers a JSONDecodeError as a validation error naming the problem.
                raise json.JSONDecodeError(exc.message.removeprefix(MALFORMED), "", 0) from None
        return self._json


class WireRoute(APIRoute):
    def get_route_handler(self) -> Handler:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            return await original(WireRequest(request.scope, request.receive))

        return handler
