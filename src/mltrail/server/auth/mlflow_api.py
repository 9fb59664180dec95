"""MLflow's basic-auth endpoints (users, experiment and registered-model permissions).

Shapes follow ``mlflow server --app-name basic-auth`` (classic API), so
``mlflow.server.get_app_client("basic-auth", ...)`` works against mltrail.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from mltrail.errors import InvalidParameterValue, PermissionDenied
from mltrail.server.api.mlflow.routing import Call, MlflowRouter, mount
from mltrail.server.auth.grant_kinds import EXPERIMENT, REGISTERED_MODEL, GrantKind
from mltrail.server.services import auth_state
from mltrail.service.authorized import principal
from mltrail.service.permissions import Level, Principal
from mltrail.store.schema_auth import UserRecord

_router = MlflowRouter()


def _state(call: Call) -> Any:
    return auth_state(call.request.app)


def _user_json(call: Call, user: UserRecord) -> dict[str, Any]:
    store = _state(call).permissions.store
    return {
        "id": user.id,
        "username": user.username,
        "is_admin": user.is_admin,
        "experiment_permissions": [
            EXPERIMENT.mlflow_json(g) for g in store.experiment_grants(user_id=user.id)
        ],
        "registered_model_permissions": [
            REGISTERED_MODEL.mlflow_json(g) for g in store.registered_model_grants(user_id=user.id)
        ],
    }


def _self_or_admin(who: Principal, username: str) -> None:
    if not who.is_admin and who.username != username:
        raise PermissionDenied("Permission denied")


@_router.rpc("POST", "/mlflow/users/create", access="admin")
def create_user(call: Call) -> dict[str, Any]:
    if "application/json" not in call.request.headers.get("content-type", ""):
        raise InvalidParameterValue("Content-Type must be application/json")
    user = _state(call).auth.create_user(
        call.args.required_string("username"), call.args.required_string("password")
    )
    return {"user": _user_json(call, user)}


@_router.rpc("GET", "/mlflow/users/get", access="user:self")
def get_user(call: Call) -> dict[str, Any]:
    username = call.args.required_string("username")
    _self_or_admin(principal(), username)
    return {"user": _user_json(call, _state(call).auth.get_user(username))}


@_router.rpc("GET", "/mlflow/users/current", access="authenticated")
def current_user(call: Call) -> dict[str, Any]:
    return {"user": _user_json(call, _state(call).auth.get_user(principal().username))}


@_router.rpc("GET", "/mlflow/users/list", access="admin")
def list_users(call: Call) -> dict[str, Any]:
    return {"users": [_user_json(call, u) for u in _state(call).auth.list_users()]}


@_router.rpc("PATCH", "/mlflow/users/update-password", access="user:self")
def update_password(call: Call) -> dict[str, Any]:
    username = call.args.required_string("username")
    _self_or_admin(principal(), username)
    auth = _state(call).auth
    auth.get_user(username)
    auth.set_password(username, call.args.required_string("password"))
    return {}


@_router.rpc("PATCH", "/mlflow/users/update-admin", access="admin")
def update_admin(call: Call) -> dict[str, Any]:
    _state(call).auth.set_admin(
        call.args.required_string("username"), is_admin=call.args.boolean("is_admin")
    )
    return {}


@_router.rpc("DELETE", "/mlflow/users/delete", access="admin")
def delete_user(call: Call) -> dict[str, Any]:
    _state(call).auth.delete_user(call.args.required_string("username"))
    return {}


def _set_grant(call: Call, kind: GrantKind) -> dict[str, Any]:
    grant = kind.set(
        _state(call).permissions,
        principal(),
        call.args.required_string(kind.key),
        username=call.args.required_string("username"),
        level=Level.parse(call.args.required_string("permission")),
    )
    # MLflow answers the grant on create and nothing on update.
    return {kind.mlflow_field: kind.mlflow_json(grant)} if call.request.method == "POST" else {}


def _get_grant(call: Call, kind: GrantKind) -> dict[str, Any]:
    grant = kind.get(
        _state(call).permissions,
        principal(),
        call.args.required_string(kind.key),
        username=call.args.required_string("username"),
    )
    return {kind.mlflow_field: kind.mlflow_json(grant)}


def _delete_grant(call: Call, kind: GrantKind) -> dict[str, Any]:
    kind.delete(
        _state(call).permissions,
        principal(),
        call.args.required_string(kind.key),
        username=call.args.required_string("username"),
    )
    return {}


@_router.rpc("POST", "/mlflow/experiments/permissions/create", access="permission:manage")
@_router.rpc("PATCH", "/mlflow/experiments/permissions/update", access="permission:manage")
def set_experiment_permission(call: Call) -> dict[str, Any]:
    return _set_grant(call, EXPERIMENT)


@_router.rpc("GET", "/mlflow/experiments/permissions/get", access="permission:manage")
def get_experiment_permission(call: Call) -> dict[str, Any]:
    return _get_grant(call, EXPERIMENT)


@_router.rpc("DELETE", "/mlflow/experiments/permissions/delete", access="permission:manage")
def delete_experiment_permission(call: Call) -> dict[str, Any]:
    return _delete_grant(call, EXPERIMENT)


@_router.rpc("POST", "/mlflow/registered-models/permissions/create", access="permission:manage")
@_router.rpc("PATCH", "/mlflow/registered-models/permissions/update", access="permission:manage")
def set_model_permission(call: Call) -> dict[str, Any]:
    return _set_grant(call, REGISTERED_MODEL)


@_router.rpc("GET", "/mlflow/registered-models/permissions/get", access="permission:manage")
def get_model_permission(call: Call) -> dict[str, Any]:
    return _get_grant(call, REGISTERED_MODEL)


@_router.rpc("DELETE", "/mlflow/registered-models/permissions/delete", access="permission:manage")
def delete_model_permission(call: Call) -> dict[str, Any]:
    return _delete_grant(call, REGISTERED_MODEL)


def install(app: FastAPI) -> None:
    """Mount the routes ahead of the adapter's catch-all (which answers unknown MLflow paths)."""
    scratch = FastAPI()
    mount(scratch, [_router])
    names = {spec.handler.__name__ for spec in _router.routes}
    ours = [r for r in scratch.router.routes if getattr(r, "name", None) in names]
    app.router.routes[0:0] = ours
