"""Operational endpoints: ``/health`` (liveness), ``/version`` and ``/metrics`` (Prometheus text
format); ``/ready`` is in :mod:`mltrail.server.readiness`.

The request counter and latency histogram are kept per route template (``/api/v1/runs/{run_id}``,
not the concrete path, so that the number of series stays bounded) and status code, with
prometheus_client, so that a server with several workers reports all of them.
"""

from __future__ import annotations

import logging
import time

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mltrail.server.access import access
from mltrail.server.logs import AccessLog
from mltrail.version import __version__

logger = logging.getLogger("mltrail.server")

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_UNMATCHED = "<unmatched>"


class RequestMetrics:
    """The request counter and latency histogram (prometheus_client), on a registry per app.

    With several worker processes the runner gives every worker one folder
    (``metrics_dir``) and switches prometheus_client to its multi-process mode before any metric
    exists; a scrape then adds up every worker's counts, whichever worker answers it.
    """

    def __init__(self, *, multiprocess_dir: str | None = None) -> None:
        import prometheus_client as prom

        # The *_created series double the output and tell a scraper nothing it needs.
        prom.disable_created_metrics()  # type: ignore[no-untyped-call]
        self._multiprocess_dir = multiprocess_dir
        self.registry = prom.CollectorRegistry(auto_describe=True)
        self._requests = prom.Counter(
            "mltrail_http_requests",
            "HTTP requests by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self._latency = prom.Histogram(
            "mltrail_http_request_duration_seconds",
            "HTTP request latency by method and route template.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        started = prom.Gauge(
            "mltrail_process_start_time_seconds",
            "Start time of the (oldest) server process since the epoch.",
            registry=self.registry,
            multiprocess_mode="min",
        )
        started.set(time.time())
        info = prom.Gauge(
            "mltrail_build_info",
            "The mltrail version.",
            ["version"],
            registry=self.registry,
            multiprocess_mode="max",
        )
        info.labels(__version__).set(1)

    def observe(self, *, method: str, route: str, status: int, seconds: float) -> None:
        self._requests.labels(method, route, str(status)).inc()
        self._latency.labels(method, route).observe(seconds)

    def exposition(self) -> bytes:
        import prometheus_client as prom

        if self._multiprocess_dir is None:
            return bytes(prom.generate_latest(self.registry))
        from prometheus_client import multiprocess

        merged = prom.CollectorRegistry()
        multiprocess.MultiProcessCollector(merged, path=self._multiprocess_dir)  # type: ignore[no-untyped-call]
        return bytes(prom.generate_latest(merged))


def route_template(scope: Scope) -> str:
    """The template of the route that served the request, with the prefixes of included routers.

    FastAPI keeps included routers nested, and ``scope["route"]`` then carries the path local
    to its router; the full template is on the effective route context FastAPI records.
    """
    fastapi_scope = scope.get("fastapi")
    context = (
        fastapi_scope.get("effective_route_context") if isinstance(fastapi_scope, dict) else None
    )
    template = getattr(context, "path_format", None)
    if not isinstance(template, str):
        route = scope.get("route")
        template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return template if isinstance(template, str) and template else _UNMATCHED


class MetricsMiddleware:
    """Times every HTTP request and records it under the template of the route that served it."""

    def __init__(
        self, app: ASGIApp, *, metrics: RequestMetrics, access_log: AccessLog | None = None
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500
        started = False

        async def recording_send(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                status = message["status"]
                started = True
                if self.access_log is not None:
                    self.access_log.write(scope, status)
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        except Exception:
            if not started and self.access_log is not None:
                # The server-error handler outside answers 500.
                self.access_log.write(scope, status)
            raise
        finally:
            self.metrics.observe(
                method=scope.get("method", ""),
                route=route_template(scope),
                status=status,
                seconds=time.perf_counter() - start,
            )


router = APIRouter(tags=["operations"])


@router.get(
    "/health",
    response_class=PlainTextResponse,
    summary="Liveness: the process answers (see /ready for the database and artifacts)",
    openapi_extra=access("public"),
)
async def health() -> Response:
    # Liveness only: a database outage must not get every replica restarted by its
    # supervisor at once; /ready says whether this one can serve.
    return PlainTextResponse("OK")


@router.get(
    "/version",
    response_class=PlainTextResponse,
    summary="The server's mltrail version",
    openapi_extra=access("public"),
)
async def version() -> Response:
    return PlainTextResponse(__version__)


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    summary="Prometheus metrics",
    openapi_extra=access("admin"),
)
async def metrics(request: Request) -> Response:
    recorder: RequestMetrics = request.app.state.request_metrics
    return Response(recorder.exposition(), media_type="text/plain; version=0.0.4; charset=utf-8")


def install_observability(app: FastAPI, *, multiprocess_dir: str | None) -> RequestMetrics:
    recorder = RequestMetrics(multiprocess_dir=multiprocess_dir)
    app.state.request_metrics = recorder
    app.include_router(router)
    return recorder
