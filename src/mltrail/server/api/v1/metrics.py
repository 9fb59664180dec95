"""/api/v1/runs/{run_id}/batch (bulk logging) and metric reads (history, sampled, summaries)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Header, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from mltrail.entities import Metric
from mltrail.server.access import ACCESS_KEY, access
from mltrail.server.api.v1.batch import ParsedBatch, parse_batch
from mltrail.server.api.v1.codec import JSONAnswer, summary_out
from mltrail.server.api.v1.schemas import BatchAnswer, BatchIn, MetricHistory, MetricSummaries
from mltrail.server.json_route import WireRoute
from mltrail.server.services import services_of
from mltrail.wire import floats_out

router = APIRouter(route_class=WireRoute, prefix="/runs", tags=["metrics"])

MAX_HISTORY_PAGE = 1_000_000


@router.post(
    "/{run_id}/batch",
    response_model=BatchAnswer,
    summary="Log metrics, params and tags in one atomic, idempotent request",
    openapi_extra={
        ACCESS_KEY: "run:edit",
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/BatchIn"}}},
        },
    },
)
async def log_batch(
    run_id: str,
    request: Request,
    idempotency_key: str | None = Header(default=None, alias="Idempotency-Key"),
) -> Response:
    raw = await request.body()
    tracking = services_of(request).tracking

    def work() -> ParsedBatch:
        batch = parse_batch(raw, header_key=idempotency_key)
        tracking.log_batch(
            run_id,
            metrics=batch.columns,
            params=batch.params,
            tags=batch.tags,
            idempotency_key=batch.idempotency_key,
        )
        return batch

    batch = await run_in_threadpool(work)
    return JSONAnswer(
        {"points": batch.points, "params": len(batch.params), "tags": len(batch.tags)}
    )


def _columns(key: str, points: list[Metric]) -> dict[str, Any]:
    return {
        "key": key,
        "steps": [m.step for m in points],
        "timestamps": [m.timestamp for m in points],
        "values": floats_out([m.value for m in points]),
    }


@router.get(
    "/{run_id}/metrics/history",
    response_model=MetricHistory,
    summary="A metric's history in step order: paged, or downsampled with max_points",
    openapi_extra=access("run:read"),
)
def get_metric_history(
    run_id: str,
    request: Request,
    key: str = Query(min_length=1),
    max_results: int | None = Query(default=None, ge=1, le=MAX_HISTORY_PAGE),
    page_token: str | None = None,
    max_points: int | None = Query(
        default=None,
        ge=2,
        le=100_000,
        description="Downsample to about this many points (keeps spikes)",
    ),
    start_step: int | None = None,
    end_step: int | None = None,
) -> Response:
    tracking = services_of(request).tracking
    if max_points is not None:
        sampled = tracking.get_metric_history_sampled(
            run_id, key=key, max_points=max_points, start_step=start_step, end_step=end_step
        )
        return JSONAnswer(dict(_columns(key, sampled), next_page_token=None))
    page = tracking.get_metric_history(
        run_id, key=key, max_results=max_results, page_token=page_token
    )
    return JSONAnswer(dict(_columns(key, page), next_page_token=page.token))


@router.get(
    "/{run_id}/metrics",
    response_model=MetricSummaries,
    summary="Latest value, min, max and count per metric",
    openapi_extra=access("run:read"),
)
def get_metric_summaries(run_id: str, request: Request) -> Response:
    summaries = services_of(request).tracking.get_metric_summaries(run_id)
    return JSONAnswer({"metrics": [summary_out(s) for s in summaries]})


# BatchIn is referenced by hand in the batch route's OpenAPI entry; keep it in the schema.
BATCH_SCHEMA = BatchIn
