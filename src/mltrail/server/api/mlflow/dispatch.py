"""Answering the MLflow RPC routes without going through the router.

Every MLflow RPC route has a fixed path (``/api/2.0/mlflow/runs/log-metric``). Starlette's
router and FastAPI's request handling (a regex tried per route, a dependency solve, an
exit stack, the exception middleware) cost about 100 us per request, as much as the
SQLite work of a ``log_metric`` call. The routes stay mounted on the app, where the
authorization layer reads their rules and where every other method and path is routed;
this middleware, the innermost, answers a request whose method and exact path are in its
table with the same endpoint, and hands the endpoint's exceptions to the app's handlers
as the exception middleware would.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from mltrail.server.middleware import route_path

Endpoint = Callable[[Request], Awaitable[Response]]
ExceptionHandlers = Mapping[Any, Callable[..., Any]]


class StaticRouteDispatch:
    def __init__(
        self,
        app: ASGIApp,
        *,
        table: Mapping[tuple[str, str], tuple[Endpoint, BaseRoute]],
        exception_handlers: ExceptionHandlers,
    ) -> None:
        self.app = app
        self.table = table
        self.exception_handlers = exception_handlers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        hit = (
            self.table.get((scope["method"], route_path(scope)))
            if scope["type"] == "http"
            else None
        )
        if hit is None:
            await self.app(scope, receive, send)
            return
        endpoint, route = hit
        # What the router would have recorded (the metrics middleware reads the route).
        scope["route"] = route
        scope["endpoint"] = endpoint
        scope["path_params"] = {}
        request = Request(scope, receive, send)
        try:
            response = await endpoint(request)
        except Exception as exc:
            handler = self._handler(exc)
            if handler is None:
                raise
            answer = handler(request, exc)
            response = await answer if inspect.isawaitable(answer) else answer
        await response(scope, receive, send)

    def _handler(self, exc: Exception) -> Callable[..., Any] | None:
        # The most specific registered class wins; the catch-all for Exception stays with
        # the server-error middleware, which also logs the traceback.
        for cls in type(exc).__mro__:
            if cls is Exception:
                return None
            handler = self.exception_handlers.get(cls)
            if handler is not None:
                return handler
        return None
