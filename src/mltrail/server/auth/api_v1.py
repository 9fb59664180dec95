"""/api/v1 users, groups, tokens and permissions (JSON; the UI's sharing dialog uses these)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from mltrail.errors import InvalidParameterValue, PermissionDenied, ResourceDoesNotExist
from mltrail.server.access import access
from mltrail.server.auth.grant_kinds import EXPERIMENT, REGISTERED_MODEL, GrantKind
from mltrail.server.json_route import WireRoute
from mltrail.server.services import auth_state
from mltrail.service.authorized import principal
from mltrail.service.groups import GroupService
from mltrail.service.permissions import Level
from mltrail.store.schema_auth import (
    GrantRecord,
    GroupGrantRecord,
    GroupRecord,
    TokenRecord,
    UserRecord,
)

router = APIRouter(route_class=WireRoute, prefix="/api/v1", tags=["auth"])


def _state(request: Request) -> Any:
    return auth_state(request.app)


def _user(user: UserRecord) -> dict[str, Any]:
    return {"id": user.id, "username": user.username, "is_admin": user.is_admin}


def _token(token: TokenRecord) -> dict[str, Any]:
    return {
        "name": token.name,
        "id_prefix": token.prefix,
        "created_at": token.created_at,
        "expires_at": token.expires_at,
        "last_used_at": token.last_used_at,
    }


def _grant(grant: GrantRecord) -> dict[str, Any]:
    return {
        "resource": grant.resource,
        "username": grant.username,
        "permission": Level(grant.level).name,
    }


class UserCreate(BaseModel):
    username: str = Field(min_length=1, max_length=256)
    password: str = Field(min_length=1, max_length=1024)
    is_admin: bool = False


class UserUpdate(BaseModel):
    password: str | None = Field(default=None, max_length=1024)
    is_admin: bool | None = None


class TokenCreate(BaseModel):
    name: str = Field(min_length=1, max_length=256)
    expires_in_days: float | None = Field(default=None, gt=0)


class GrantIn(BaseModel):
    """A grant to a user (``username``) or to a group (``group``): exactly one of the two."""

    username: str | None = Field(default=None, min_length=1, max_length=256)
    group: str | None = Field(default=None, min_length=1, max_length=256)
    permission: str = Field(min_length=1, max_length=32)


class SignedInIn(BaseModel):
    permission: str = Field(min_length=1, max_length=32)


class GroupCreate(BaseModel):
    name: str = Field(min_length=1, max_length=256)


def _group_grant(grant: GroupGrantRecord) -> dict[str, Any]:
    return {
        "resource": grant.resource,
        "group": grant.group,
        "permission": Level(grant.level).name,
    }


def _group(group: GroupRecord) -> dict[str, Any]:
    return {"name": group.name, "members": list(group.members), "created_at": group.created_at}


@router.get("/users/me", summary="The signed-in user", openapi_extra=access("authenticated"))
def me(request: Request) -> Response:
    return JSONResponse({"user": _user(_state(request).auth.get_user(principal().username))})


@router.get("/users", summary="List users (admins)", openapi_extra=access("admin"))
def list_users(request: Request) -> Response:
    return JSONResponse({"users": [_user(u) for u in _state(request).auth.list_users()]})


@router.post(
    "/users", status_code=201, summary="Create a user (admins)", openapi_extra=access("admin")
)
def create_user(body: UserCreate, request: Request) -> Response:
    user = _state(request).auth.create_user(body.username, body.password, is_admin=body.is_admin)
    return JSONResponse({"user": _user(user)}, status_code=201)


@router.patch(
    "/users/{username}",
    summary="Change a password (self or admin) or the admin flag (admins)",
    openapi_extra=access("user:self"),
)
def update_user(username: str, body: UserUpdate, request: Request) -> Response:
    who = principal()
    auth = _state(request).auth
    if not who.is_admin and (who.username != username or body.is_admin is not None):
        raise PermissionDenied("Permission denied")
    auth.get_user(username)
    if body.password is not None:
        auth.set_password(username, body.password)
    if body.is_admin is not None:
        auth.set_admin(username, is_admin=body.is_admin)
    return JSONResponse({})


@router.delete("/users/{username}", summary="Delete a user (admins)", openapi_extra=access("admin"))
def delete_user(username: str, request: Request) -> Response:
    _state(request).auth.delete_user(username)
    return JSONResponse({})


@router.get("/tokens", summary="My API tokens", openapi_extra=access("token:self"))
def list_tokens(request: Request) -> Response:
    tokens = _state(request).auth.list_tokens(principal().username)
    return JSONResponse({"tokens": [_token(t) for t in tokens]})


@router.post(
    "/tokens",
    status_code=201,
    summary="Create an API token (shown once)",
    openapi_extra=access("token:self"),
)
async def create_token(body: TokenCreate, request: Request) -> Response:
    token = await run_in_threadpool(
        _state(request).auth.create_token,
        principal().username,
        name=body.name,
        expires_in_days=body.expires_in_days,
    )
    return JSONResponse(
        {"name": token.name, "token": token.token, "expires_at": token.expires_at},
        status_code=201,
        headers={"Cache-Control": "no-store"},
    )


@router.delete(
    "/tokens/{name}", summary="Revoke one of my tokens", openapi_extra=access("token:self")
)
def revoke_token(name: str, request: Request) -> Response:
    _state(request).auth.revoke_token(principal().username, name=name)
    return JSONResponse({})


def _list_grants(request: Request, kind: GrantKind, resource: str) -> Response:
    perms = _state(request).permissions
    grants = kind.listing(perms, principal(), resource)
    body: dict[str, Any] = {
        "permissions": [_grant(g) for g in grants],
        "group_permissions": [_group_grant(g) for g in kind.group_listing(perms, resource)],
        "default_permission": perms.default_level.name,
    }
    if kind is EXPERIMENT:
        sharing = perms.sharing(principal(), resource)
        body["signed_in_permission"] = sharing.signed_in.name
        body["others_permission"] = sharing.others().name
    return JSONResponse(body)


def _set_grant(request: Request, kind: GrantKind, resource: str, body: GrantIn) -> Response:
    perms = _state(request).permissions
    level = Level.parse(body.permission)
    if (body.username is None) == (body.group is None):
        raise InvalidParameterValue("Give exactly one of 'username' and 'group'")
    if body.group is not None:
        granted = kind.set_group(perms, principal(), resource, group=body.group, level=level)
        return JSONResponse({"group_permission": _group_grant(granted)})
    grant = kind.set(perms, principal(), resource, username=body.username or "", level=level)
    return JSONResponse({"permission": _grant(grant)})


def _revoke_grant(request: Request, kind: GrantKind, resource: str, username: str) -> Response:
    kind.delete(_state(request).permissions, principal(), resource, username=username)
    return JSONResponse({})


@router.get(
    "/permissions/experiments/{experiment_id}",
    summary="Grants on an experiment (MANAGE)",
    openapi_extra=access("permission:manage"),
)
def experiment_grants(experiment_id: str, request: Request) -> Response:
    return _list_grants(request, EXPERIMENT, experiment_id)


@router.put(
    "/permissions/experiments/{experiment_id}",
    summary="Grant a level on an experiment (MANAGE)",
    openapi_extra=access("permission:manage"),
)
def grant_experiment(experiment_id: str, body: GrantIn, request: Request) -> Response:
    return _set_grant(request, EXPERIMENT, experiment_id, body)


@router.delete(
    "/permissions/experiments/{experiment_id}/{username}",
    summary="Revoke a grant on an experiment (MANAGE)",
    openapi_extra=access("permission:manage"),
)
def revoke_experiment(experiment_id: str, username: str, request: Request) -> Response:
    return _revoke_grant(request, EXPERIMENT, experiment_id, username)


@router.delete(
    "/permissions/experiments/{experiment_id}/groups/{group}",
    summary="Revoke a group's grant on an experiment (MANAGE)",
    openapi_extra=access("permission:manage"),
)
def revoke_experiment_group(experiment_id: str, group: str, request: Request) -> Response:
    EXPERIMENT.delete_group(_state(request).permissions, principal(), experiment_id, group=group)
    return JSONResponse({})


@router.put(
    "/permissions/experiments/{experiment_id}/signed-in",
    summary='Set "everyone signed in may READ / EDIT" on an experiment (MANAGE; NONE: off)',
    openapi_extra=access("permission:manage"),
)
def set_signed_in(experiment_id: str, body: SignedInIn, request: Request) -> Response:
    perms = _state(request).permissions
    perms.set_experiment_signed_in(principal(), experiment_id, level=Level.parse(body.permission))
    return JSONResponse({"signed_in_permission": Level.parse(body.permission).name})


@router.get(
    "/permissions/registered-models/{name}",
    summary="Grants on a registered model (MANAGE)",
    openapi_extra=access("permission:manage"),
)
def model_grants(name: str, request: Request) -> Response:
    return _list_grants(request, REGISTERED_MODEL, name)


@router.put(
    "/permissions/registered-models/{name}",
    summary="Grant a level on a registered model (MANAGE)",
    openapi_extra=access("permission:manage"),
)
def grant_model(name: str, body: GrantIn, request: Request) -> Response:
    return _set_grant(request, REGISTERED_MODEL, name, body)


@router.delete(
    "/permissions/registered-models/{name}/{username}",
    summary="Revoke a grant on a registered model (MANAGE)",
    openapi_extra=access("permission:manage"),
)
def revoke_model(name: str, username: str, request: Request) -> Response:
    return _revoke_grant(request, REGISTERED_MODEL, name, username)


@router.delete(
    "/permissions/registered-models/{name}/groups/{group}",
    summary="Revoke a group's grant on a registered model (MANAGE)",
    openapi_extra=access("permission:manage"),
)
def revoke_model_group(name: str, group: str, request: Request) -> Response:
    REGISTERED_MODEL.delete_group(_state(request).permissions, principal(), name, group=group)
    return JSONResponse({})


# -- groups (admins) ------------------------------------------------------------------
def _groups(request: Request) -> GroupService:
    return GroupService(_state(request).auth.store)


@router.get(
    "/groups", summary="List groups and their members (admins)", openapi_extra=access("admin")
)
def list_groups(request: Request) -> Response:
    return JSONResponse({"groups": [_group(g) for g in _groups(request).all()]})


@router.post(
    "/groups", status_code=201, summary="Create a group (admins)", openapi_extra=access("admin")
)
def create_group(body: GroupCreate, request: Request) -> Response:
    return JSONResponse({"group": _group(_groups(request).create(body.name))}, status_code=201)


@router.get(
    "/groups/{name}",
    summary="A group, its members and grants (admins)",
    openapi_extra=access("admin"),
)
def get_group(name: str, request: Request) -> Response:
    service = _groups(request)
    experiments, models = service.grants(name)
    return JSONResponse(
        {
            "group": _group(service.get(name)),
            "experiment_permissions": [_group_grant(g) for g in experiments],
            "registered_model_permissions": [_group_grant(g) for g in models],
        }
    )


@router.delete("/groups/{name}", summary="Delete a group (admins)", openapi_extra=access("admin"))
def delete_group(name: str, request: Request) -> Response:
    _groups(request).delete(name)
    return JSONResponse({})


@router.put(
    "/groups/{name}/members/{username}",
    summary="Add a user to a group (admins)",
    openapi_extra=access("admin"),
)
def add_member(name: str, username: str, request: Request) -> Response:
    _groups(request).add(name, [username])
    return JSONResponse({})


@router.delete(
    "/groups/{name}/members/{username}",
    summary="Remove a user from a group (admins)",
    openapi_extra=access("admin"),
)
def remove_member(name: str, username: str, request: Request) -> Response:
    if not _groups(request).remove(name, [username]):
        raise ResourceDoesNotExist(f"User {username} is not a member of group '{name}'")
    return JSONResponse({})
