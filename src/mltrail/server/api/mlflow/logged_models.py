"""MLflow's logged-model routes (``/mlflow/logged-models...``), the API ``log_model`` uses."""

from __future__ import annotations

from typing import Any

from mltrail.model_entities import DatasetScope, LoggedModel, ModelOrder
from mltrail.server.api.mlflow import codec
from mltrail.server.api.mlflow.routing import Args, Call, MlflowRouter
from mltrail.server.api.mlflow.schema import ARRAY, ENUM, INT, REQUIRED, STRING, STRING_ITEMS
from mltrail.server.services import models_services
from mltrail.service.logged_models import LoggedModelService

_router = MlflowRouter()


def _service(call: Call) -> LoggedModelService:
    return models_services(call.request.app)[0]


def encode_logged_model(model: LoggedModel) -> dict[str, Any]:
    info = codec.compact(
        {
            "model_id": model.model_id,
            "experiment_id": model.experiment_id,
            "name": model.name,
            "creation_timestamp_ms": model.creation_timestamp,
            "last_updated_timestamp_ms": model.last_updated_timestamp,
            "artifact_uri": model.artifact_location,
            "status": model.status.value,
            "status_message": model.status_message or None,
            "model_type": model.model_type or None,
            "source_run_id": model.source_run_id or None,
            "tags": codec.key_values(model.tags),
        }
    )
    metrics = [
        codec.compact(
            {
                "key": m.key,
                "value": codec.double(m.value),
                "timestamp": m.timestamp,
                "step": m.step,
                "dataset_name": m.dataset_name,
                "dataset_digest": m.dataset_digest,
                "model_id": m.model_id,
                "run_id": m.run_id,
            }
        )
        for m in model.metrics
    ]
    data = codec.compact({"params": codec.key_values(model.params), "metrics": metrics})
    return {"info": info, "data": data}


def _key_values(args: Args, name: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in args.messages(name):
        out[item.required_string("key")] = item.string("value")
    return out


@_router.rpc(
    "POST",
    "/mlflow/logged-models",
    access="experiment:edit",
    schema=(
        ("experiment_id", STRING, REQUIRED),
        ("name", STRING),
        ("model_type", STRING),
        ("source_run_id", STRING),
        ("params", ARRAY),
        ("tags", ARRAY),
    ),
)
def create_logged_model(call: Call) -> dict[str, Any]:
    args = call.args
    model = _service(call).create_logged_model(
        args.required_string("experiment_id"),
        name=args.optional_string("name"),
        source_run_id=args.optional_string("source_run_id"),
        model_type=args.optional_string("model_type"),
        params=_key_values(args, "params"),
        tags=_key_values(args, "tags"),
    )
    return {"model": encode_logged_model(model)}


@_router.rpc(
    "POST",
    "/mlflow/logged-models/search",
    access="experiment:read",
    schema=(
        ("experiment_ids", ARRAY, STRING_ITEMS, REQUIRED),
        ("filter", STRING),
        ("datasets", ARRAY),
        ("max_results", INT),
        ("order_by", ARRAY),
        ("page_token", STRING),
    ),
)
def search_logged_models(call: Call) -> dict[str, Any]:
    args = call.args
    datasets = [
        DatasetScope(d.required_string("dataset_name"), d.optional_string("dataset_digest"))
        for d in args.messages("datasets")
    ]
    order_by = [
        ModelOrder(
            field_name=o.required_string("field_name"),
            ascending=o.boolean("ascending", True),
            dataset_name=o.optional_string("dataset_name"),
            dataset_digest=o.optional_string("dataset_digest"),
        )
        for o in args.messages("order_by")
    ]
    page = _service(call).search_logged_models(
        args.string_list("experiment_ids"),
        filter_string=args.optional_string("filter"),
        datasets=datasets,
        max_results=args.optional_integer("max_results"),
        order_by=order_by,
        page_token=args.optional_string("page_token"),
    )
    return codec.paged("models", [encode_logged_model(m) for m in page], page.token)


@_router.rpc("GET", "/mlflow/logged-models/{model_id}", access="logged_model:read")
def get_logged_model(call: Call) -> dict[str, Any]:
    model = _service(call).get_logged_model(
        call.path["model_id"], allow_deleted=call.args.boolean("allow_deleted", False)
    )
    return {"model": encode_logged_model(model)}


@_router.rpc(
    "PATCH",
    "/mlflow/logged-models/{model_id}",
    access="logged_model:edit",
    schema=(("status", ENUM, REQUIRED),),
)
def finalize_logged_model(call: Call) -> dict[str, Any]:
    status = call.args.optional_enum(
        "status", ["LOGGED_MODEL_PENDING", "LOGGED_MODEL_READY", "LOGGED_MODEL_UPLOAD_FAILED"]
    )
    if status is None:
        call.args.required_string("status")
    model = _service(call).finalize_logged_model(call.path["model_id"], status=str(status))
    return {"model": encode_logged_model(model)}


@_router.rpc("DELETE", "/mlflow/logged-models/{model_id}", access="logged_model:delete")
def delete_logged_model(call: Call) -> dict[str, Any]:
    _service(call).delete_logged_model(call.path["model_id"])
    return {}


@_router.rpc(
    "PATCH",
    "/mlflow/logged-models/{model_id}/tags",
    access="logged_model:edit",
    schema=(("tags", ARRAY),),
)
def set_logged_model_tags(call: Call) -> dict[str, Any]:
    _service(call).set_logged_model_tags(call.path["model_id"], tags=_key_values(call.args, "tags"))
    return {}


@_router.rpc(
    "DELETE", "/mlflow/logged-models/{model_id}/tags/{tag_key:path}", access="logged_model:edit"
)
def delete_logged_model_tag(call: Call) -> dict[str, Any]:
    _service(call).delete_logged_model_tag(call.path["model_id"], key=call.path["tag_key"])
    return {}


@_router.rpc(
    "POST",
    "/mlflow/logged-models/{model_id}/params",
    access="logged_model:edit",
    schema=(("params", ARRAY),),
)
def log_logged_model_params(call: Call) -> dict[str, Any]:
    _service(call).log_logged_model_params(
        call.path["model_id"], params=_key_values(call.args, "params")
    )
    return {}


def router() -> MlflowRouter:
    return _router
