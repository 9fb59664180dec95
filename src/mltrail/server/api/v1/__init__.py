"""The native JSON API, mounted under ``/api/v1``."""

from __future__ import annotations

from fastapi import APIRouter

from mltrail.server.api.v1 import artifacts, experiments, metrics, models, registry, runs

PREFIX = "/api/v1"
# Paths whose request bodies stream to storage and are exempt from max_request_bytes.
STREAMING_UPLOAD_PREFIXES = (f"{PREFIX}/artifacts/",)


def build_router() -> APIRouter:
    router = APIRouter(prefix=PREFIX)
    router.include_router(experiments.router)
    # metrics before runs: "/runs/{run_id}/metrics" must not be taken for "/runs/{run_id}".
    router.include_router(metrics.router)
    router.include_router(runs.router)
    # Registered even with --no-serve-artifacts, to answer with a clear message.
    router.include_router(artifacts.router)
    router.include_router(models.router)
    router.include_router(registry.router)
    return router
