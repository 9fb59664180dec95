"""The groups page for admins: create and delete groups, add and remove members, and see what
each group was granted. A grant to a group is made where the resource is shared (the
experiment's Sharing dialog, ``mltrail permissions grant group:NAME``).

Like the users page, it answers the not-found page to anyone but an admin.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from mltrail.errors import MltrailError
from mltrail.server.auth.views_account import auth_service
from mltrail.server.auth.views_admin import require_admin
from mltrail.server.ui.forms import checked_form, redirect
from mltrail.server.ui.routing import EDIT, PAGE, PageRoute
from mltrail.server.ui.templating import render
from mltrail.service.groups import GroupService
from mltrail.service.permissions import Level

router = APIRouter(route_class=PageRoute)

PATH = "/admin/groups"
NOTICES = {
    "created": "Group created.",
    "deleted": "Group deleted, with its grants (its users stay).",
    "added": "Member added.",
    "removed": "Member removed.",
}


def _groups(request: Request) -> GroupService:
    return GroupService(auth_service(request).store)  # type: ignore[arg-type]


def _page(request: Request, *, error: str = "", status_code: int = 200) -> Response:
    require_admin()
    service = _groups(request)
    rows = []
    for group in service.all():
        experiments, models = service.grants(group.name)
        grants = [("experiment", g.resource, Level(g.level).name) for g in experiments]
        grants += [("model", g.resource, Level(g.level).name) for g in models]
        rows.append({"group": group, "grants": grants})
    response = render(
        request,
        "admin_groups.html",
        status_code=status_code,
        title="Groups",
        groups=rows,
        usernames=sorted(u.username for u in auth_service(request).list_users()),
        error=error,
        notice=NOTICES.get(request.query_params.get("done", ""), ""),
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get(PATH, include_in_schema=False, openapi_extra=PAGE)
def groups_page(request: Request) -> Response:
    return _page(request)


async def _apply(request: Request, change: Any, *, done: str) -> Response:
    try:
        await run_in_threadpool(change)
    except MltrailError as exc:
        return await run_in_threadpool(_page, request, error=exc.message, status_code=exc.status)
    return redirect(request, f"{PATH}?done={done}")


@router.post(PATH, include_in_schema=False, openapi_extra=EDIT)
async def create_group(request: Request) -> Response:
    require_admin()
    form = await checked_form(request)
    members = [m for m in form.get("members").replace(",", " ").split() if m]
    service = _groups(request)
    return await _apply(
        request, lambda: service.create(form.get("name").strip(), members), done="created"
    )


@router.post(PATH + "/{name}/delete", include_in_schema=False, openapi_extra=EDIT)
async def delete_group(request: Request, name: str) -> Response:
    require_admin()
    await checked_form(request)
    service = _groups(request)
    return await _apply(request, lambda: service.delete(name), done="deleted")


@router.post(PATH + "/{name}/members", include_in_schema=False, openapi_extra=EDIT)
async def add_member(request: Request, name: str) -> Response:
    require_admin()
    form = await checked_form(request)
    service = _groups(request)
    return await _apply(
        request, lambda: service.add(name, [form.get("username").strip()]), done="added"
    )


@router.post(PATH + "/{name}/members/remove", include_in_schema=False, openapi_extra=EDIT)
async def remove_member(request: Request, name: str) -> Response:
    require_admin()
    form = await checked_form(request)
    service = _groups(request)
    return await _apply(
        request, lambda: service.remove(name, [form.get("username")]), done="removed"
    )
