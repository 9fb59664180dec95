"""MLflow experiment routes (``/mlflow/experiments/...``)."""

from __future__ import annotations

from typing import Any

from mltrail.entities import ViewType
from mltrail.errors import InvalidParameterValue, ResourceDoesNotExist
from mltrail.server.api.mlflow import codec
from mltrail.server.api.mlflow.routing import Args, Call, MlflowRouter
from mltrail.server.api.mlflow.schema import ARRAY, ENUM, INT, REQUIRED, STRING

_router = MlflowRouter()

SEARCH_MAX_RESULTS = 50_000
SEARCH_DEFAULT_RESULTS = 1_000
VIEW_TYPES = [v.name for v in ViewType]
_EXPERIMENT_ID = (("experiment_id", REQUIRED, STRING),)


def router() -> MlflowRouter:
    return _router


def tag_pairs(args: Args, name: str = "tags") -> dict[str, str]:
    """A repeated ``{key, value}`` field as a dict (a missing value is the empty string)."""
    out: dict[str, str] = {}
    for item in args.messages(name):
        out[item.required_string("key")] = item.string("value")
    return out


def view_type(args: Args, name: str) -> ViewType:
    chosen = args.optional_enum(name, VIEW_TYPES)
    return ViewType.ACTIVE_ONLY if chosen is None else ViewType[chosen]


def max_results(args: Args, *, default: int, limit: int) -> int:
    value = args.integer("max_results", default)
    if value < 1 or value > limit:
        raise InvalidParameterValue(
            f"Invalid value {value} for parameter 'max_results' supplied. "
            f"It must be between 1 and {limit}."
        )
    return value


@_router.rpc(
    "POST",
    "/mlflow/experiments/create",
    access="experiment:create",
    schema=(("name", REQUIRED, STRING), ("artifact_location", STRING), ("tags", ARRAY)),
)
def create_experiment(call: Call) -> dict[str, Any]:
    args = call.args
    name = args.required_string("name")
    location = args.optional_string("artifact_location") or None
    experiment_id = call.tracking.create_experiment(
        name, artifact_location=location, tags=tag_pairs(args)
    )
    return {"experiment_id": experiment_id}


@_router.rpc("GET", "/mlflow/experiments/get", access="experiment:read", schema=_EXPERIMENT_ID)
def get_experiment(call: Call) -> dict[str, Any]:
    experiment_id = call.args.required_string("experiment_id")
    return {"experiment": codec.experiment(call.tracking.get_experiment(experiment_id))}


@_router.rpc(
    "GET",
    "/mlflow/experiments/get-by-name",
    access="experiment:read",
    schema=(("experiment_name", REQUIRED, STRING),),
)
def get_experiment_by_name(call: Call) -> dict[str, Any]:
    name = call.args.required_string("experiment_name")
    exp = call.tracking.get_experiment_by_name(name)
    if exp is None:
        # The client maps exactly this code to "absent" (set_experiment relies on it).
        raise ResourceDoesNotExist(f"Could not find experiment with name '{name}'")
    return {"experiment": codec.experiment(exp)}


@_router.rpc(
    ("GET", "POST"),
    "/mlflow/experiments/search",
    access="experiment:read",
    schema=(
        ("view_type", ENUM),
        ("max_results", INT),
        ("order_by", ARRAY),
        ("filter", STRING),
        ("page_token", STRING),
    ),
)
def search_experiments(call: Call) -> dict[str, Any]:
    args = call.args
    page = call.tracking.search_experiments(
        view_type=view_type(args, "view_type"),
        max_results=max_results(args, default=SEARCH_DEFAULT_RESULTS, limit=SEARCH_MAX_RESULTS),
        filter_string=args.string("filter"),
        order_by=args.string_list("order_by"),
        page_token=args.optional_string("page_token") or None,
    )
    return codec.paged("experiments", [codec.experiment(e) for e in page], page.token)


@_router.rpc(
    "POST",
    "/mlflow/experiments/update",
    access="experiment:edit",
    schema=(*_EXPERIMENT_ID, ("new_name", STRING, REQUIRED)),
)
def rename_experiment(call: Call) -> dict[str, Any]:
    experiment_id = call.args.required_string("experiment_id")
    new_name = call.args.required_string("new_name")
    call.tracking.rename_experiment(experiment_id, new_name=new_name)
    return {}


@_router.rpc(
    "POST", "/mlflow/experiments/delete", access="experiment:delete", schema=_EXPERIMENT_ID
)
def delete_experiment(call: Call) -> dict[str, Any]:
    call.tracking.delete_experiment(call.args.required_string("experiment_id"))
    return {}


@_router.rpc(
    "POST", "/mlflow/experiments/restore", access="experiment:delete", schema=_EXPERIMENT_ID
)
def restore_experiment(call: Call) -> dict[str, Any]:
    call.tracking.restore_experiment(call.args.required_string("experiment_id"))
    return {}


@_router.rpc(
    "POST",
    "/mlflow/experiments/set-experiment-tag",
    access="experiment:edit",
    schema=(*_EXPERIMENT_ID, ("key", REQUIRED, STRING), ("value", STRING)),
)
def set_experiment_tag(call: Call) -> dict[str, Any]:
    args = call.args
    call.tracking.set_experiment_tag(
        args.required_string("experiment_id"),
        key=args.required_string("key"),
        value=args.string("value"),
    )
    return {}


@_router.rpc(
    "POST",
    "/mlflow/experiments/delete-experiment-tag",
    access="experiment:edit",
    schema=(*_EXPERIMENT_ID, ("key", REQUIRED, STRING)),
)
def delete_experiment_tag(call: Call) -> dict[str, Any]:
    args = call.args
    call.tracking.delete_experiment_tag(
        args.required_string("experiment_id"), key=args.required_string("key")
    )
    return {}
