"""MLflow's model-registry routes (``/mlflow/registered-models/...``, ``/mlflow/model-versions/...``)."""

from __future__ import annotations

from typing import Any, TypedDict

from mltrail.model_entities import ModelVersion, RegisteredModel
from mltrail.server.api.mlflow import codec
from mltrail.server.api.mlflow.routing import Args, Call, MlflowRouter
from mltrail.server.api.mlflow.schema import (
    ARRAY,
    BOOL,
    INT,
    REQUIRED,
    STRING,
    STRING_ITEMS,
    Schema,
    at_most,
)
from mltrail.server.services import models_services
from mltrail.service.registry import RegistryService

_router = MlflowRouter()
_RM = "/mlflow/registered-models"
_MV = "/mlflow/model-versions"


def _service(call: Call) -> RegistryService:
    return models_services(call.request.app)[1]


def encode_model_version(version: ModelVersion) -> dict[str, Any]:
    return codec.compact(
        {
            "name": version.name,
            "version": str(version.version),
            "creation_timestamp": version.creation_timestamp,
            "last_updated_timestamp": version.last_updated_timestamp,
            "user_id": version.user_id,
            "current_stage": version.current_stage,
            "description": version.description,
            "source": version.source,
            "run_id": version.run_id,
            "status": version.status,
            "status_message": version.status_message or None,
            "tags": codec.key_values(version.tags),
            "run_link": version.run_link,
            "aliases": list(version.aliases),
            "model_id": version.model_id,
        }
    )


def encode_registered_model(model: RegisteredModel) -> dict[str, Any]:
    return codec.compact(
        {
            "name": model.name,
            "creation_timestamp": model.creation_timestamp,
            "last_updated_timestamp": model.last_updated_timestamp,
            "user_id": model.user_id,
            "description": model.description,
            "latest_versions": [encode_model_version(v) for v in model.latest_versions],
            "tags": codec.key_values(model.tags),
            "aliases": [{"alias": a, "version": str(v)} for a, v in model.aliases.items()],
        }
    )


def _search_schema(limit: int) -> Schema:
    return (
        ("filter", STRING),
        ("max_results", INT, at_most(limit)),
        ("order_by", ARRAY, STRING_ITEMS),
        ("page_token", STRING),
    )


def _tags(args: Args) -> dict[str, str]:
    return {t.required_string("key"): t.string("value") for t in args.messages("tags")}


def _name(args: Args) -> str:
    return args.required_string("name")


def _version(args: Args) -> str:
    return args.required_string("version")


class _SearchRequest(TypedDict):
    filter_string: str | None
    max_results: int | None
    order_by: list[str]
    page_token: str | None


def _search_request(args: Args) -> _SearchRequest:
    """The arguments that registered-model and model-version searches share."""
    return _SearchRequest(
        filter_string=args.optional_string("filter"),
        max_results=args.optional_integer("max_results"),
        order_by=args.string_list("order_by"),
        page_token=args.optional_string("page_token"),
    )


# -- registered models ---------------------------------------------------------
@_router.rpc(
    "POST",
    f"{_RM}/create",
    access="registered_model:create",
    schema=(("name", STRING, REQUIRED), ("tags", ARRAY), ("description", STRING)),
)
def create_registered_model(call: Call) -> dict[str, Any]:
    model = _service(call).create_registered_model(
        _name(call.args),
        tags=_tags(call.args),
        description=call.args.optional_string("description"),
    )
    return {"registered_model": encode_registered_model(model)}


@_router.rpc(
    "GET", f"{_RM}/get", access="registered_model:read", schema=(("name", STRING, REQUIRED),)
)
def get_registered_model(call: Call) -> dict[str, Any]:
    model = _service(call).get_registered_model(_name(call.args))
    return {"registered_model": encode_registered_model(model)}


@_router.rpc(
    ("GET", "POST"), f"{_RM}/search", access="registered_model:read", schema=_search_schema(1000)
)
def search_registered_models(call: Call) -> dict[str, Any]:
    page = _service(call).search_registered_models(**_search_request(call.args))
    items = [encode_registered_model(m) for m in page]
    return codec.paged("registered_models", items, page.token)


@_router.rpc(
    "POST",
    f"{_RM}/rename",
    access="registered_model:edit",
    schema=(("name", STRING, REQUIRED), ("new_name", STRING, REQUIRED)),
)
def rename_registered_model(call: Call) -> dict[str, Any]:
    model = _service(call).rename_registered_model(
        _name(call.args), new_name=call.args.required_string("new_name")
    )
    return {"registered_model": encode_registered_model(model)}


@_router.rpc(
    "PATCH",
    f"{_RM}/update",
    access="registered_model:edit",
    schema=(("name", STRING, REQUIRED), ("description", STRING)),
)
def update_registered_model(call: Call) -> dict[str, Any]:
    model = _service(call).update_registered_model(
        _name(call.args), description=call.args.optional_string("description")
    )
    return {"registered_model": encode_registered_model(model)}


@_router.rpc(
    "DELETE",
    f"{_RM}/delete",
    access="registered_model:delete",
    schema=(("name", STRING, REQUIRED),),
)
def delete_registered_model(call: Call) -> dict[str, Any]:
    _service(call).delete_registered_model(_name(call.args))
    return {}


@_router.rpc(
    ("GET", "POST"),
    f"{_RM}/get-latest-versions",
    access="registered_model:read",
    schema=(("name", STRING, REQUIRED), ("stages", ARRAY, STRING_ITEMS)),
)
def get_latest_versions(call: Call) -> dict[str, Any]:
    versions = _service(call).get_latest_versions(
        _name(call.args), stages=call.args.string_list("stages")
    )
    return codec.compact({"model_versions": [encode_model_version(v) for v in versions]})


@_router.rpc(
    "POST",
    f"{_RM}/set-tag",
    access="registered_model:edit",
    schema=(("name", STRING, REQUIRED), ("key", STRING, REQUIRED), ("value", STRING)),
)
def set_registered_model_tag(call: Call) -> dict[str, Any]:
    args = call.args
    _service(call).set_registered_model_tag(
        _name(args), key=args.required_string("key"), value=args.string("value")
    )
    return {}


@_router.rpc(
    "DELETE",
    f"{_RM}/delete-tag",
    access="registered_model:edit",
    schema=(("name", STRING, REQUIRED), ("key", STRING, REQUIRED)),
)
def delete_registered_model_tag(call: Call) -> dict[str, Any]:
    _service(call).delete_registered_model_tag(
        _name(call.args), key=call.args.required_string("key")
    )
    return {}


@_router.rpc(
    "POST",
    f"{_RM}/alias",
    access="registered_model:edit",
    schema=(("name", STRING, REQUIRED), ("alias", STRING, REQUIRED), ("version", STRING, REQUIRED)),
)
def set_registered_model_alias(call: Call) -> dict[str, Any]:
    args = call.args
    _service(call).set_registered_model_alias(
        _name(args), alias=args.required_string("alias"), version=_version(args)
    )
    return {}


@_router.rpc(
    "DELETE",
    f"{_RM}/alias",
    access="registered_model:delete",
    schema=(("name", STRING, REQUIRED), ("alias", STRING, REQUIRED)),
)
def delete_registered_model_alias(call: Call) -> dict[str, Any]:
    _service(call).delete_registered_model_alias(
        _name(call.args), alias=call.args.required_string("alias")
    )
    return {}


@_router.rpc(
    "GET",
    f"{_RM}/alias",
    access="registered_model:read",
    schema=(("name", STRING, REQUIRED), ("alias", STRING, REQUIRED)),
)
def get_model_version_by_alias(call: Call) -> dict[str, Any]:
    version = _service(call).get_model_version_by_alias(
        _name(call.args), alias=call.args.required_string("alias")
    )
    return {"model_version": encode_model_version(version)}


# -- model versions --------------------------------------------------------------
@_router.rpc(
    "POST",
    f"{_MV}/create",
    access="registered_model:edit",
    schema=(
        ("name", STRING, REQUIRED),
        ("source", STRING, REQUIRED),
        ("run_id", STRING),
        ("tags", ARRAY),
        ("run_link", STRING),
        ("description", STRING),
        ("model_id", STRING),
    ),
)
def create_model_version(call: Call) -> dict[str, Any]:
    args = call.args
    version = _service(call).create_model_version(
        _name(args),
        source=args.required_string("source"),
        run_id=args.optional_string("run_id"),
        tags=_tags(args),
        run_link=args.optional_string("run_link"),
        description=args.optional_string("description"),
        model_id=args.optional_string("model_id"),
    )
    return {"model_version": encode_model_version(version)}


@_router.rpc(
    "GET",
    f"{_MV}/get",
    access="registered_model:read",
    schema=(("name", STRING, REQUIRED), ("version", STRING, REQUIRED)),
)
def get_model_version(call: Call) -> dict[str, Any]:
    version = _service(call).get_model_version(_name(call.args), version=_version(call.args))
    return {"model_version": encode_model_version(version)}


@_router.rpc(
    ("GET", "POST"), f"{_MV}/search", access="registered_model:read", schema=_search_schema(200_000)
)
def search_model_versions(call: Call) -> dict[str, Any]:
    page = _service(call).search_model_versions(**_search_request(call.args))
    items = [encode_model_version(v) for v in page]
    return codec.paged("model_versions", items, page.token)


@_router.rpc(
    "PATCH",
    f"{_MV}/update",
    access="registered_model:edit",
    schema=(("name", STRING, REQUIRED), ("version", STRING, REQUIRED), ("description", STRING)),
)
def update_model_version(call: Call) -> dict[str, Any]:
    args = call.args
    version = _service(call).update_model_version(
        _name(args), version=_version(args), description=args.optional_string("description")
    )
    return {"model_version": encode_model_version(version)}


@_router.rpc(
    "POST",
    f"{_MV}/transition-stage",
    access="registered_model:edit",
    schema=(
        ("name", STRING, REQUIRED),
        ("version", STRING, REQUIRED),
        ("stage", STRING, REQUIRED),
        ("archive_existing_versions", BOOL),
    ),
)
def transition_model_version_stage(call: Call) -> dict[str, Any]:
    args = call.args
    version = _service(call).transition_model_version_stage(
        _name(args),
        version=_version(args),
        stage=args.required_string("stage"),
        archive_existing_versions=args.boolean("archive_existing_versions", False),
    )
    return {"model_version": encode_model_version(version)}


@_router.rpc(
    "DELETE",
    f"{_MV}/delete",
    access="registered_model:delete",
    schema=(("name", STRING, REQUIRED), ("version", STRING, REQUIRED)),
)
def delete_model_version(call: Call) -> dict[str, Any]:
    _service(call).delete_model_version(_name(call.args), version=_version(call.args))
    return {}


@_router.rpc("GET", f"{_MV}/get-download-uri", access="registered_model:read")
def get_model_version_download_uri(call: Call) -> dict[str, Any]:
    uri = _service(call).get_model_version_download_uri(
        _name(call.args), version=_version(call.args)
    )
    return {"artifact_uri": uri}


@_router.rpc(
    "POST",
    f"{_MV}/set-tag",
    access="registered_model:edit",
    schema=(
        ("name", STRING, REQUIRED),
        ("version", STRING, REQUIRED),
        ("key", STRING, REQUIRED),
        ("value", STRING),
    ),
)
def set_model_version_tag(call: Call) -> dict[str, Any]:
    args = call.args
    _service(call).set_model_version_tag(
        _name(args),
        version=_version(args),
        key=args.required_string("key"),
        value=args.string("value"),
    )
    return {}


@_router.rpc(
    "DELETE",
    f"{_MV}/delete-tag",
    access="registered_model:edit",
    schema=(("name", STRING, REQUIRED), ("version", STRING, REQUIRED), ("key", STRING, REQUIRED)),
)
def delete_model_version_tag(call: Call) -> dict[str, Any]:
    args = call.args
    _service(call).delete_model_version_tag(
        _name(args), version=_version(args), key=args.required_string("key")
    )
    return {}


def router() -> MlflowRouter:
    return _router
