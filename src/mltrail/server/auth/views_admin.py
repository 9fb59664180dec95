"""The users page for admins: list, create, delete, set admin, reset a password.

Only served with authentication on. For anyone but an admin every ``/admin/...`` page
answers the not-found page, so the page does not even reveal that it exists. Admins cannot
delete themselves or drop their own admin flag here, so the server always keeps an admin.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from mltrail.errors import InvalidParameterValue, InvalidState, MltrailError, ResourceDoesNotExist
from mltrail.server.auth.views_account import auth_service
from mltrail.server.ui.forms import checked_form, redirect
from mltrail.server.ui.routing import EDIT, PAGE, PageRoute
from mltrail.server.ui.templating import render
from mltrail.service.authorized import principal
from mltrail.service.permissions import Principal

router = APIRouter(route_class=PageRoute)

PATH = "/admin/users"
NOTICES = {
    "created": "User created.",
    "deleted": "User deleted, with their tokens, sessions and grants.",
    "admin": "Admin flag changed.",
    "password": "Password reset; the user's browser sessions were signed out.",
}


def require_admin() -> Principal:
    who = principal()
    if not who.is_admin:
        raise ResourceDoesNotExist("No such page")
    return who


def _page(request: Request, *, error: str = "", status_code: int = 200, **extra: Any) -> Response:
    me = require_admin()
    auth = auth_service(request)
    users = auth.list_users()
    groups_of: dict[str, list[str]] = {}
    for group in auth.store.list_groups():  # type: ignore[attr-defined]
        for member in group.members:
            groups_of.setdefault(member, []).append(group.name)
    response = render(
        request,
        "admin_users.html",
        status_code=status_code,
        title="Users",
        me=me.username,
        users=sorted(users, key=lambda u: u.username.lower()),
        groups_of=groups_of,
        error=error,
        notice=NOTICES.get(request.query_params.get("done", ""), ""),
        **extra,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get(PATH, include_in_schema=False, openapi_extra=PAGE)
def users_page(request: Request) -> Response:
    return _page(request)


async def _apply(request: Request, change: Any, *args: Any, done: str, **kwargs: Any) -> Response:
    """Run one change; re-render the page with its error, or redirect with a notice."""
    try:
        await run_in_threadpool(change, *args, **kwargs)
    except MltrailError as exc:
        return await run_in_threadpool(_page, request, error=exc.message, status_code=exc.status)
    return redirect(request, f"{PATH}?done={done}")


@router.post(PATH, include_in_schema=False, openapi_extra=EDIT)
async def create_user(request: Request) -> Response:
    require_admin()
    form = await checked_form(request)
    auth = auth_service(request)
    password = form.get("password")

    def create() -> None:
        if password != form.get("password_repeat"):
            raise InvalidParameterValue("The two passwords differ")
        auth.create_user(
            form.get("username").strip(), password, is_admin=bool(form.get("is_admin"))
        )

    return await _apply(request, create, done="created")


@router.post(PATH + "/{username}/delete", include_in_schema=False, openapi_extra=EDIT)
async def delete_user(request: Request, username: str) -> Response:
    me = require_admin()
    await checked_form(request)
    auth = auth_service(request)

    def delete() -> None:
        if username == me.username:
            raise InvalidState("You cannot delete your own account here")
        auth.delete_user(username)

    return await _apply(request, delete, done="deleted")


@router.post(PATH + "/{username}/admin", include_in_schema=False, openapi_extra=EDIT)
async def set_admin(request: Request, username: str) -> Response:
    me = require_admin()
    form = await checked_form(request)
    value = form.get("is_admin").lower()
    auth = auth_service(request)

    def change() -> None:
        if value not in ("true", "false"):
            raise InvalidParameterValue("is_admin must be true or false")
        if username == me.username and value == "false":
            raise InvalidState("You cannot remove your own admin flag here")
        auth.get_user(username)
        auth.set_admin(username, is_admin=value == "true")

    return await _apply(request, change, done="admin")


@router.post(PATH + "/{username}/password", include_in_schema=False, openapi_extra=EDIT)
async def reset_password(request: Request, username: str) -> Response:
    require_admin()
    form = await checked_form(request)
    auth = auth_service(request)
    password = form.get("password")

    def reset() -> None:
        if password != form.get("password_repeat"):
            raise InvalidParameterValue("The two passwords differ")
        auth.get_user(username)
        auth.set_password(username, password)

    return await _apply(request, reset, done="password")
