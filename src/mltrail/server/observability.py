"""Operational endpoints: ``/health``, ``/version`` and ``/metrics`` (Prometheus text format).

The request counter and latency histogram are kept per route template (``/api/v1/runs/{run_id}``,
not the concrete path, so that the number of series stays bounded) and status code. The
exposition format is small enough to write by hand, which spares a dependency.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import PlainTextResponse, Response
from sqlalchemy import text
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mltrail.server.access import access
from mltrail.server.services import services_of
from mltrail.server.threads import run_blocking
from mltrail.version import __version__

logger = logging.getLogger("mltrail.server")

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_UNMATCHED = "<unmatched>"


class RequestMetrics:
    """Counters shared by every request of one process (each worker reports its own)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str, int], int] = defaultdict(int)
        self._buckets: dict[tuple[str, str], list[int]] = {}
        self._sums: dict[tuple[str, str], float] = defaultdict(float)
        self.started = time.time()

    def observe(self, *, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route)
        with self._lock:
            self._counts[(method, route, status)] += 1
            buckets = self._buckets.get(key)
            if buckets is None:
                buckets = self._buckets[key] = [0] * (len(LATENCY_BUCKETS) + 1)
            for i, bound in enumerate(LATENCY_BUCKETS):
                if seconds <= bound:
                    buckets[i] += 1
                    break
            else:
                buckets[-1] += 1
            self._sums[key] += seconds

    def exposition(self) -> str:
        lines = [
            "# HELP mltrail_http_requests_total HTTP requests by method, route template and status.",
            "# TYPE mltrail_http_requests_total counter",
        ]
        with self._lock:
            counts = sorted(self._counts.items())
            buckets = sorted(self._buckets.items())
            sums = dict(self._sums)
        for (method, route, status), n in counts:
            labels = _labels(method=method, route=route, status=str(status))
            lines.append(f"mltrail_http_requests_total{{{labels}}} {n}")
        lines += [
            "# HELP mltrail_http_request_duration_seconds HTTP request latency by method and route template.",
            "# TYPE mltrail_http_request_duration_seconds histogram",
        ]
        for (method, route), counts_per_bucket in buckets:
            cumulative = 0
            for bound, n in zip((*LATENCY_BUCKETS, float("inf")), counts_per_bucket, strict=True):
                cumulative += n
                le = "+Inf" if bound == float("inf") else repr(bound)
                labels = _labels(method=method, route=route, le=le)
                lines.append(
                    f"mltrail_http_request_duration_seconds_bucket{{{labels}}} {cumulative}"
                )
            labels = _labels(method=method, route=route)
            lines.append(
                f"mltrail_http_request_duration_seconds_sum{{{labels}}} {sums[(method, route)]:.6f}"
            )
            lines.append(f"mltrail_http_request_duration_seconds_count{{{labels}}} {cumulative}")
        lines += [
            "# HELP mltrail_process_start_time_seconds Start time of the process since the epoch.",
            "# TYPE mltrail_process_start_time_seconds gauge",
            f"mltrail_process_start_time_seconds {self.started:.3f}",
            "# HELP mltrail_build_info The mltrail version.",
            "# TYPE mltrail_build_info gauge",
            f'mltrail_build_info{{version="{__version__}"}} 1',
        ]
        return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(**labels: str) -> str:
    return ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())


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

    def __init__(self, app: ASGIApp, *, metrics: RequestMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            self.metrics.observe(
                method=scope.get("method", ""),
                route=route_template(scope),
                status=status,
                seconds=time.perf_counter() - start,
            )


router = APIRouter(tags=["operations"])


def _ping_database(request: Request) -> None:
    with services_of(request).engine.connect() as conn:
        conn.execute(text("SELECT 1"))


@router.get(
    "/health",
    response_class=PlainTextResponse,
    summary="Liveness (also checks the database)",
    openapi_extra=access("public"),
)
async def health(request: Request) -> Response:
    try:
        await run_blocking(_ping_database, request)
    except Exception as exc:
        # The detail may name the database server: log it, do not answer it.
        logger.warning("health check: database unavailable: %s", exc)
        return PlainTextResponse(
            "UNAVAILABLE: the tracking database does not answer", status_code=503
        )
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
    return PlainTextResponse(
        recorder.exposition(), media_type="text/plain; version=0.0.4; charset=utf-8"
    )


def install_observability(app: FastAPI) -> RequestMetrics:
    recorder = RequestMetrics()
    app.state.request_metrics = recorder
    app.include_router(router)
    return recorder
