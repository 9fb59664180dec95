"""/api/v1/runs: create, read, update, delete, restore, search, delete tag."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from mltrail.entities import RunStatus, ViewType
from mltrail.server.access import access
from mltrail.server.api.v1.codec import JSONAnswer, run_info_out, run_out, runs_out
from mltrail.server.api.v1.schemas import (
    Empty,
    RunAnswer,
    RunCreate,
    RunInfoAnswer,
    RunPage,
    RunSearch,
    RunUpdate,
)
from mltrail.server.json_route import WireRoute
from mltrail.server.services import services_of

router = APIRouter(route_class=WireRoute, prefix="/runs", tags=["runs"])


@router.post(
    "",
    response_model=RunAnswer,
    status_code=201,
    summary="Create a run",
    openapi_extra=access("run:create"),
)
def create_run(body: RunCreate, request: Request) -> Response:
    run = services_of(request).tracking.create_run(
        body.experiment_id,
        start_time=body.start_time,
        tags=body.tags,
        run_name=body.run_name,
        user_id=body.user_id,
        run_id=body.run_id,
    )
    return JSONAnswer({"run": run_out(run)}, status_code=201)


@router.post(
    "/search", response_model=RunPage, summary="Search runs", openapi_extra=access("run:read")
)
def search_runs(body: RunSearch, request: Request) -> Response:
    page = services_of(request).tracking.search_runs(
        body.experiment_ids,
        filter_string=body.filter,
        view_type=ViewType[body.view_type],
        max_results=body.max_results,
        order_by=body.order_by,
        page_token=body.page_token,
    )
    return JSONAnswer({"runs": runs_out(page), "next_page_token": page.token})


@router.get(
    "/{run_id}", response_model=RunAnswer, summary="Get a run", openapi_extra=access("run:read")
)
def get_run(run_id: str, request: Request) -> Response:
    return JSONAnswer({"run": run_out(services_of(request).tracking.get_run(run_id))})


@router.patch(
    "/{run_id}",
    response_model=RunInfoAnswer,
    summary="Update a run's status, end time or name",
    openapi_extra=access("run:edit"),
)
def update_run(run_id: str, body: RunUpdate, request: Request) -> Response:
    info = services_of(request).tracking.update_run(
        run_id,
        status=RunStatus[body.status] if body.status else None,
        end_time=body.end_time,
        run_name=body.run_name,
    )
    return JSONAnswer({"run_info": run_info_out(info)})


@router.delete(
    "/{run_id}",
    response_model=Empty,
    summary="Delete a run (soft)",
    openapi_extra=access("run:delete"),
)
def delete_run(run_id: str, request: Request) -> Response:
    services_of(request).tracking.delete_run(run_id)
    return JSONAnswer({})


@router.post(
    "/{run_id}/restore",
    response_model=Empty,
    summary="Restore a deleted run",
    openapi_extra=access("run:delete"),
)
def restore_run(run_id: str, request: Request) -> Response:
    services_of(request).tracking.restore_run(run_id)
    return JSONAnswer({})


@router.delete(
    "/{run_id}/tags",
    response_model=Empty,
    summary="Delete a run tag",
    openapi_extra=access("run:edit"),
)
def delete_tag(run_id: str, request: Request, key: str = Query(min_length=1)) -> Response:
    services_of(request).tracking.delete_tag(run_id, key=key)
    return JSONAnswer({})
