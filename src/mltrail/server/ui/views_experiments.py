"""The experiments page: list with run counts and last activity; create, rename, delete, restore."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from mltrail.entities import ViewType
from mltrail.errors import InvalidParameterValue
from mltrail.server.services import services_of
from mltrail.server.ui.forms import checked_form, local_return_path, redirect
from mltrail.server.ui.routing import EDIT, PAGE, PageRoute
from mltrail.server.ui.templating import render

router = APIRouter(route_class=PageRoute)

PAGE_SIZE = 100
VIEWS = {"active": ViewType.ACTIVE_ONLY, "deleted": ViewType.DELETED_ONLY, "all": ViewType.ALL}


def like_literal(text: str) -> str:
    """``text`` as the inside of a quoted LIKE pattern of the search grammar (matched literally)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_").replace("'", "''")


@router.get("/", include_in_schema=False, openapi_extra=PAGE)
def experiments_page(request: Request) -> Response:
    services = services_of(request)
    q = request.query_params.get("q", "").strip()
    view = request.query_params.get("view", "active")
    if view not in VIEWS:
        view = "active"
    token = request.query_params.get("page") or None
    filter_string = f"name ILIKE '%{like_literal(q)}%'" if q else ""
    page = services.tracking.search_experiments(
        view_type=VIEWS[view],
        max_results=PAGE_SIZE,
        filter_string=filter_string,
        order_by=["last_update_time DESC"],
        page_token=token,
    )
    stats = services.dashboard.experiment_stats([e.experiment_id for e in page])
    return render(
        request,
        "experiments.html",
        title="Experiments",
        experiments=list(page),
        stats=stats,
        q=q,
        view=view,
        next_token=page.token,
        page_token=token,
    )


@router.post("/experiments/create", include_in_schema=False, openapi_extra=EDIT)
async def create_experiment(request: Request) -> Response:
    form = await checked_form(request)
    name = form.get("name").strip()
    if not name:
        raise InvalidParameterValue("An experiment needs a name")
    experiment_id = services_of(request).tracking.create_experiment(name)
    return redirect(request, f"/experiments/{experiment_id}")


@router.post("/experiments/{experiment_id}/rename", include_in_schema=False, openapi_extra=EDIT)
async def rename_experiment(request: Request, experiment_id: str) -> Response:
    form = await checked_form(request)
    name = form.get("name").strip()
    if not name:
        raise InvalidParameterValue("The new name is empty")
    services_of(request).tracking.rename_experiment(experiment_id, new_name=name)
    return redirect(request, local_return_path(request, form.get("next"), fallback="/"))


@router.post("/experiments/{experiment_id}/delete", include_in_schema=False, openapi_extra=EDIT)
async def delete_experiment(request: Request, experiment_id: str) -> Response:
    form = await checked_form(request)
    services_of(request).tracking.delete_experiment(experiment_id)
    return redirect(request, local_return_path(request, form.get("next"), fallback="/"))


@router.post("/experiments/{experiment_id}/restore", include_in_schema=False, openapi_extra=EDIT)
async def restore_experiment(request: Request, experiment_id: str) -> Response:
    form = await checked_form(request)
    services_of(request).tracking.restore_experiment(experiment_id)
    return redirect(request, local_return_path(request, form.get("next"), fallback="/"))
