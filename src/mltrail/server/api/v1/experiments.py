"""/api/v1/experiments: create, read, search, rename, delete, restore, tags."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from mltrail.entities import ViewType
from mltrail.errors import ResourceDoesNotExist
from mltrail.server.access import access
from mltrail.server.api.v1.codec import JSONAnswer, experiment_out
from mltrail.server.api.v1.schemas import (
    Empty,
    ExperimentAnswer,
    ExperimentCreate,
    ExperimentId,
    ExperimentPage,
    ExperimentSearch,
    ExperimentUpdate,
    TagIn,
)
from mltrail.server.json_route import WireRoute
from mltrail.server.services import services_of

router = APIRouter(route_class=WireRoute, prefix="/experiments", tags=["experiments"])


@router.post(
    "",
    response_model=ExperimentId,
    status_code=201,
    summary="Create an experiment",
    openapi_extra=access("experiment:create"),
)
def create_experiment(body: ExperimentCreate, request: Request) -> Response:
    experiment_id = services_of(request).tracking.create_experiment(
        body.name, artifact_location=body.artifact_location or None, tags=body.tags
    )
    return JSONAnswer({"experiment_id": experiment_id}, status_code=201)


@router.get(
    "/by-name",
    response_model=ExperimentAnswer,
    summary="Get an experiment by name",
    openapi_extra=access("experiment:read"),
)
def get_experiment_by_name(request: Request, name: str = Query(min_length=1)) -> Response:
    exp = services_of(request).tracking.get_experiment_by_name(name)
    if exp is None:
        raise ResourceDoesNotExist(f"No experiment named {name!r}")
    return JSONAnswer({"experiment": experiment_out(exp)})


@router.post(
    "/search",
    response_model=ExperimentPage,
    summary="Search experiments",
    openapi_extra=access("experiment:read"),
)
def search_experiments(body: ExperimentSearch, request: Request) -> Response:
    page = services_of(request).tracking.search_experiments(
        view_type=ViewType[body.view_type],
        max_results=body.max_results,
        filter_string=body.filter,
        order_by=body.order_by,
        page_token=body.page_token,
    )
    return JSONAnswer(
        {"experiments": [experiment_out(e) for e in page], "next_page_token": page.token}
    )


@router.get(
    "/{experiment_id}",
    response_model=ExperimentAnswer,
    summary="Get an experiment",
    openapi_extra=access("experiment:read"),
)
def get_experiment(experiment_id: str, request: Request) -> Response:
    exp = services_of(request).tracking.get_experiment(experiment_id)
    return JSONAnswer({"experiment": experiment_out(exp)})


@router.patch(
    "/{experiment_id}",
    response_model=Empty,
    summary="Rename an experiment",
    openapi_extra=access("experiment:edit"),
)
def rename_experiment(experiment_id: str, body: ExperimentUpdate, request: Request) -> Response:
    services_of(request).tracking.rename_experiment(experiment_id, new_name=body.name)
    return JSONAnswer({})


@router.delete(
    "/{experiment_id}",
    response_model=Empty,
    summary="Delete an experiment (soft)",
    openapi_extra=access("experiment:delete"),
)
def delete_experiment(experiment_id: str, request: Request) -> Response:
    services_of(request).tracking.delete_experiment(experiment_id)
    return JSONAnswer({})


@router.post(
    "/{experiment_id}/restore",
    response_model=Empty,
    summary="Restore a deleted experiment",
    openapi_extra=access("experiment:delete"),
)
def restore_experiment(experiment_id: str, request: Request) -> Response:
    services_of(request).tracking.restore_experiment(experiment_id)
    return JSONAnswer({})


@router.post(
    "/{experiment_id}/tags",
    response_model=Empty,
    summary="Set an experiment tag",
    openapi_extra=access("experiment:edit"),
)
def set_experiment_tag(experiment_id: str, body: TagIn, request: Request) -> Response:
    services_of(request).tracking.set_experiment_tag(experiment_id, key=body.key, value=body.value)
    return JSONAnswer({})


@router.delete(
    "/{experiment_id}/tags",
    response_model=Empty,
    summary="Delete an experiment tag",
    openapi_extra=access("experiment:edit"),
)
def delete_experiment_tag(
    experiment_id: str, request: Request, key: str = Query(min_length=1)
) -> Response:
    services_of(request).tracking.delete_experiment_tag(experiment_id, key=key)
    return JSONAnswer({})
