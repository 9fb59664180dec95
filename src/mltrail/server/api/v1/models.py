"""/api/v1/logged-models: what the mltrail client's ``log_model`` and ``models:/<id>`` use.

Every handler goes through :func:`models_of`, the same logged-model and registry services
the MLflow adapter uses (their permission-checked versions when auth is on).
"""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from mltrail.model_entities import DatasetScope, ModelOrder
from mltrail.server.access import access
from mltrail.server.api.v1.codec import JSONAnswer
from mltrail.server.api.v1.model_codec import logged_model_out
from mltrail.server.api.v1.model_schemas import (
    LoggedModelAnswer,
    LoggedModelCreate,
    LoggedModelFinalize,
    LoggedModelPage,
    LoggedModelParams,
    LoggedModelSearch,
    LoggedModelTags,
)
from mltrail.server.api.v1.schemas import Empty
from mltrail.server.json_route import WireRoute
from mltrail.server.services import models_services
from mltrail.service.models import ModelsService

router = APIRouter(route_class=WireRoute, prefix="/logged-models", tags=["logged models"])


def models_of(request: Request) -> ModelsService:
    logged, registry = models_services(request.app)
    return ModelsService(logged_models=logged, registry=registry)


@router.post(
    "",
    response_model=LoggedModelAnswer,
    status_code=201,
    summary="Create a logged model (status PENDING until finalized)",
    openapi_extra=access("experiment:edit"),
)
def create_logged_model(body: LoggedModelCreate, request: Request) -> Response:
    model = models_of(request).create_logged_model(
        body.experiment_id,
        name=body.name,
        source_run_id=body.source_run_id,
        model_type=body.model_type,
        params=body.params,
        tags=body.tags,
        model_id=body.model_id,
    )
    return JSONAnswer({"model": logged_model_out(model)}, status_code=201)


@router.post(
    "/search",
    response_model=LoggedModelPage,
    summary="Search logged models",
    openapi_extra=access("experiment:read"),
)
def search_logged_models(body: LoggedModelSearch, request: Request) -> Response:
    page = models_of(request).search_logged_models(
        body.experiment_ids,
        filter_string=body.filter,
        datasets=[DatasetScope(d.name, d.digest) for d in body.datasets],
        max_results=body.max_results,
        order_by=[
            ModelOrder(
                field_name=o.field_name,
                ascending=o.ascending,
                dataset_name=o.dataset_name,
                dataset_digest=o.dataset_digest,
            )
            for o in body.order_by
        ],
        page_token=body.page_token,
    )
    return JSONAnswer(
        {"models": [logged_model_out(m) for m in page], "next_page_token": page.token}
    )


@router.get(
    "/{model_id}",
    response_model=LoggedModelAnswer,
    summary="Get a logged model",
    openapi_extra=access("logged_model:read"),
)
def get_logged_model(model_id: str, request: Request, allow_deleted: bool = False) -> Response:
    model = models_of(request).get_logged_model(model_id, allow_deleted=allow_deleted)
    return JSONAnswer({"model": logged_model_out(model)})


@router.patch(
    "/{model_id}",
    response_model=LoggedModelAnswer,
    summary="Finalize a logged model (READY or UPLOAD_FAILED)",
    openapi_extra=access("logged_model:edit"),
)
def finalize_logged_model(model_id: str, body: LoggedModelFinalize, request: Request) -> Response:
    model = models_of(request).finalize_logged_model(model_id, status=body.status)
    return JSONAnswer({"model": logged_model_out(model)})


@router.delete(
    "/{model_id}",
    response_model=Empty,
    summary="Delete a logged model (soft)",
    openapi_extra=access("logged_model:delete"),
)
def delete_logged_model(model_id: str, request: Request) -> Response:
    models_of(request).delete_logged_model(model_id)
    return JSONAnswer({})


@router.post(
    "/{model_id}/tags",
    response_model=Empty,
    summary="Set tags on a logged model",
    openapi_extra=access("logged_model:edit"),
)
def set_logged_model_tags(model_id: str, body: LoggedModelTags, request: Request) -> Response:
    models_of(request).set_logged_model_tags(model_id, tags=body.tags)
    return JSONAnswer({})


@router.delete(
    "/{model_id}/tags",
    response_model=Empty,
    summary="Delete a tag of a logged model",
    openapi_extra=access("logged_model:edit"),
)
def delete_logged_model_tag(
    model_id: str, request: Request, key: str = Query(min_length=1)
) -> Response:
    models_of(request).delete_logged_model_tag(model_id, key=key)
    return JSONAnswer({})


@router.post(
    "/{model_id}/params",
    response_model=Empty,
    summary="Log params on a logged model",
    openapi_extra=access("logged_model:edit"),
)
def log_logged_model_params(model_id: str, body: LoggedModelParams, request: Request) -> Response:
    models_of(request).log_logged_model_params(model_id, params=body.params)
    return JSONAnswer({})
