"""/api/v1/registered-models and /api/v1/model-versions: the model registry, natively.

Model names cannot contain ``/``, so a name is one path segment; versions are numbers.
Permissions are checked by the registry service (see :func:`.models.models_of`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from mltrail.server.access import access
from mltrail.server.api.v1.codec import JSONAnswer
from mltrail.server.api.v1.model_codec import model_version_out, registered_model_out
from mltrail.server.api.v1.model_schemas import (
    AliasIn,
    DownloadUri,
    ModelVersionAnswer,
    ModelVersionCreate,
    ModelVersionList,
    ModelVersionPage,
    ModelVersionUpdate,
    RegisteredModelAnswer,
    RegisteredModelCreate,
    RegisteredModelPage,
    RegisteredModelRename,
    RegisteredModelUpdate,
    RegistrySearch,
    RegistryTagIn,
    StageTransition,
)
from mltrail.server.api.v1.models import models_of
from mltrail.server.api.v1.schemas import Empty
from mltrail.server.json_route import WireRoute

router = APIRouter(route_class=WireRoute, tags=["model registry"])
_RM = "/registered-models"
_MV = _RM + "/{name}/versions/{version}"


# -- registered models ---------------------------------------------------------
@router.post(
    _RM,
    response_model=RegisteredModelAnswer,
    status_code=201,
    summary="Create a registered model",
    openapi_extra=access("registered_model:create"),
)
def create_registered_model(body: RegisteredModelCreate, request: Request) -> Response:
    model = models_of(request).create_registered_model(
        body.name, tags=body.tags, description=body.description
    )
    return JSONAnswer({"registered_model": registered_model_out(model)}, status_code=201)


@router.post(
    f"{_RM}/search",
    response_model=RegisteredModelPage,
    summary="Search registered models",
    openapi_extra=access("registered_model:read"),
)
def search_registered_models(body: RegistrySearch, request: Request) -> Response:
    page = models_of(request).search_registered_models(
        filter_string=body.filter,
        max_results=body.max_results,
        order_by=body.order_by,
        page_token=body.page_token,
    )
    return JSONAnswer(
        {
            "registered_models": [registered_model_out(m) for m in page],
            "next_page_token": page.token,
        }
    )


@router.post(
    "/model-versions/search",
    response_model=ModelVersionPage,
    summary="Search model versions",
    openapi_extra=access("registered_model:read"),
)
def search_model_versions(body: RegistrySearch, request: Request) -> Response:
    page = models_of(request).search_model_versions(
        filter_string=body.filter,
        max_results=body.max_results,
        order_by=body.order_by,
        page_token=body.page_token,
    )
    return JSONAnswer(
        {"model_versions": [model_version_out(v) for v in page], "next_page_token": page.token}
    )


@router.get(
    _RM + "/{name}",
    response_model=RegisteredModelAnswer,
    summary="Get a registered model",
    openapi_extra=access("registered_model:read"),
)
def get_registered_model(name: str, request: Request) -> Response:
    model = models_of(request).get_registered_model(name)
    return JSONAnswer({"registered_model": registered_model_out(model)})


@router.patch(
    _RM + "/{name}",
    response_model=RegisteredModelAnswer,
    summary="Update a registered model's description",
    openapi_extra=access("registered_model:edit"),
)
def update_registered_model(name: str, body: RegisteredModelUpdate, request: Request) -> Response:
    model = models_of(request).update_registered_model(name, description=body.description)
    return JSONAnswer({"registered_model": registered_model_out(model)})


@router.post(
    _RM + "/{name}/rename",
    response_model=RegisteredModelAnswer,
    summary="Rename a registered model",
    openapi_extra=access("registered_model:edit"),
)
def rename_registered_model(name: str, body: RegisteredModelRename, request: Request) -> Response:
    model = models_of(request).rename_registered_model(name, new_name=body.new_name)
    return JSONAnswer({"registered_model": registered_model_out(model)})


@router.delete(
    _RM + "/{name}",
    response_model=Empty,
    summary="Delete a registered model, its versions and aliases",
    openapi_extra=access("registered_model:delete"),
)
def delete_registered_model(name: str, request: Request) -> Response:
    models_of(request).delete_registered_model(name)
    return JSONAnswer({})


@router.post(
    _RM + "/{name}/tags",
    response_model=Empty,
    summary="Set a registered model tag",
    openapi_extra=access("registered_model:edit"),
)
def set_registered_model_tag(name: str, body: RegistryTagIn, request: Request) -> Response:
    models_of(request).set_registered_model_tag(name, key=body.key, value=body.value)
    return JSONAnswer({})


@router.delete(
    _RM + "/{name}/tags",
    response_model=Empty,
    summary="Delete a registered model tag",
    openapi_extra=access("registered_model:edit"),
)
def delete_registered_model_tag(
    name: str, request: Request, key: str = Query(min_length=1)
) -> Response:
    models_of(request).delete_registered_model_tag(name, key=key)
    return JSONAnswer({})


@router.get(
    _RM + "/{name}/latest-versions",
    response_model=ModelVersionList,
    summary="The newest version per stage (or of the stages asked for)",
    openapi_extra=access("registered_model:read"),
)
def get_latest_versions(
    name: str, request: Request, stages: Annotated[list[str] | None, Query()] = None
) -> Response:
    versions = models_of(request).get_latest_versions(name, stages=stages or ())
    return JSONAnswer({"model_versions": [model_version_out(v) for v in versions]})


# -- aliases ---------------------------------------------------------------------
@router.put(
    _RM + "/{name}/aliases/{alias}",
    response_model=Empty,
    summary="Point an alias at a version",
    openapi_extra=access("registered_model:edit"),
)
def set_registered_model_alias(name: str, alias: str, body: AliasIn, request: Request) -> Response:
    models_of(request).set_registered_model_alias(name, alias=alias, version=body.version)
    return JSONAnswer({})


@router.get(
    _RM + "/{name}/aliases/{alias}",
    response_model=ModelVersionAnswer,
    summary="The version an alias points at",
    openapi_extra=access("registered_model:read"),
)
def get_model_version_by_alias(name: str, alias: str, request: Request) -> Response:
    version = models_of(request).get_model_version_by_alias(name, alias=alias)
    return JSONAnswer({"model_version": model_version_out(version)})


@router.delete(
    _RM + "/{name}/aliases/{alias}",
    response_model=Empty,
    summary="Delete an alias",
    openapi_extra=access("registered_model:delete"),
)
def delete_registered_model_alias(name: str, alias: str, request: Request) -> Response:
    models_of(request).delete_registered_model_alias(name, alias=alias)
    return JSONAnswer({})


# -- model versions ----------------------------------------------------------------
@router.post(
    _RM + "/{name}/versions",
    response_model=ModelVersionAnswer,
    status_code=201,
    summary="Register a new version (source: models:/<id>, runs:/<run>/<path>, a URI)",
    openapi_extra=access("registered_model:edit"),
)
def create_model_version(name: str, body: ModelVersionCreate, request: Request) -> Response:
    version = models_of(request).create_model_version(
        name,
        source=body.source,
        run_id=body.run_id,
        tags=body.tags,
        run_link=body.run_link,
        description=body.description,
        model_id=body.model_id,
    )
    return JSONAnswer({"model_version": model_version_out(version)}, status_code=201)


@router.get(
    _MV,
    response_model=ModelVersionAnswer,
    summary="Get a model version",
    openapi_extra=access("registered_model:read"),
)
def get_model_version(name: str, version: str, request: Request) -> Response:
    found = models_of(request).get_model_version(name, version=version)
    return JSONAnswer({"model_version": model_version_out(found)})


@router.patch(
    _MV,
    response_model=ModelVersionAnswer,
    summary="Update a model version's description",
    openapi_extra=access("registered_model:edit"),
)
def update_model_version(
    name: str, version: str, body: ModelVersionUpdate, request: Request
) -> Response:
    found = models_of(request).update_model_version(
        name, version=version, description=body.description
    )
    return JSONAnswer({"model_version": model_version_out(found)})


@router.delete(
    _MV,
    response_model=Empty,
    summary="Delete a model version",
    openapi_extra=access("registered_model:delete"),
)
def delete_model_version(name: str, version: str, request: Request) -> Response:
    models_of(request).delete_model_version(name, version=version)
    return JSONAnswer({})


@router.post(
    _MV + "/stage",
    response_model=ModelVersionAnswer,
    summary="Move a model version to a stage",
    openapi_extra=access("registered_model:edit"),
)
def transition_model_version_stage(
    name: str, version: str, body: StageTransition, request: Request
) -> Response:
    found = models_of(request).transition_model_version_stage(
        name,
        version=version,
        stage=body.stage,
        archive_existing_versions=body.archive_existing_versions,
    )
    return JSONAnswer({"model_version": model_version_out(found)})


@router.get(
    _MV + "/download-uri",
    response_model=DownloadUri,
    summary="Where a model version's files are",
    openapi_extra=access("registered_model:read"),
)
def get_model_version_download_uri(name: str, version: str, request: Request) -> Response:
    uri = models_of(request).get_model_version_download_uri(name, version=version)
    return JSONAnswer({"artifact_uri": uri})


@router.post(
    _MV + "/tags",
    response_model=Empty,
    summary="Set a model version tag",
    openapi_extra=access("registered_model:edit"),
)
def set_model_version_tag(
    name: str, version: str, body: RegistryTagIn, request: Request
) -> Response:
    models_of(request).set_model_version_tag(name, version=version, key=body.key, value=body.value)
    return JSONAnswer({})


@router.delete(
    _MV + "/tags",
    response_model=Empty,
    summary="Delete a model version tag",
    openapi_extra=access("registered_model:edit"),
)
def delete_model_version_tag(
    name: str, version: str, request: Request, key: str = Query(min_length=1)
) -> Response:
    models_of(request).delete_model_version_tag(name, version=version, key=key)
    return JSONAnswer({})
