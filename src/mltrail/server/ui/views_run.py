"""The run page: attributes, description, params, metrics, tags, charts and artifacts."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from mltrail.entities import RunTag
from mltrail.errors import InvalidParameterValue, MltrailError
from mltrail.server.services import services_of
from mltrail.server.ui.forms import checked_form, redirect
from mltrail.server.ui.models_data import load_snippet, run_models, signature_rows
from mltrail.server.ui.routing import EDIT, PAGE, PageRoute
from mltrail.server.ui.runs_table import PARENT_TAG, SOURCE_TAG
from mltrail.server.ui.templating import render

router = APIRouter(route_class=PageRoute)

NOTE_TAG = "mlflow.note.content"
GIT_COMMIT_TAG = "mlflow.source.git.commit"
# Tags shown as attributes of the run rather than in the tags table.
SHOWN_ELSEWHERE = {NOTE_TAG, "mlflow.runName", "mlflow.user"}
MAX_DESCRIPTION = 100_000
SYSTEM_PREFIX = "system/"


@router.get("/runs/{run_id}", include_in_schema=False, openapi_extra=PAGE)
def run_page(request: Request, run_id: str) -> Response:
    tracking = services_of(request).tracking
    run = tracking.get_run(run_id)
    experiment = tracking.get_experiment(run.info.experiment_id)
    every = sorted(tracking.get_metric_summaries(run_id), key=lambda s: s.key)
    # System metrics (system/cpu_utilization_percentage, ...) get a section of their own.
    summaries = [s for s in every if not s.key.startswith(SYSTEM_PREFIX)]
    system_summaries = [s for s in every if s.key.startswith(SYSTEM_PREFIX)]
    tags = run.data.tags
    parent_id = tags.get(PARENT_TAG)
    parent_name = None
    if parent_id:
        try:
            parent_name = tracking.get_run(parent_id).info.run_name
        except MltrailError:  # a dangling parent tag must not break the page
            parent_name = None
    children = tracking.search_runs(
        [run.info.experiment_id],
        filter_string=f"tags.`{PARENT_TAG}` = '{run_id}'",
        max_results=100,
    )
    return render(
        request,
        "run.html",
        title=run.info.run_name or run_id,
        run=run,
        experiment=experiment,
        summaries=summaries,
        system_summaries=system_summaries,
        description=tags.get(NOTE_TAG, ""),
        source=tags.get(SOURCE_TAG, ""),
        git_commit=tags.get(GIT_COMMIT_TAG, ""),
        parent_id=parent_id,
        parent_name=parent_name,
        children=list(children),
        tags=sorted((k, v) for k, v in tags.items() if k not in SHOWN_ELSEWHERE),
        params=sorted(run.data.params.items()),
        editing=request.query_params.get("edit") == "description",
        models=run_models(request, run),
        load_snippet=load_snippet,
        signature_rows=signature_rows,
    )


@router.post("/runs/{run_id}/description", include_in_schema=False, openapi_extra=EDIT)
async def set_description(request: Request, run_id: str) -> Response:
    form = await checked_form(request)
    text = form.get("description")
    if len(text) > MAX_DESCRIPTION:
        raise InvalidParameterValue(f"The description is longer than {MAX_DESCRIPTION} characters")
    services_of(request).tracking.log_batch(run_id, tags=[RunTag(NOTE_TAG, text)])
    return redirect(request, f"/runs/{run_id}")


@router.post("/runs/{run_id}/rename", include_in_schema=False, openapi_extra=EDIT)
async def rename_run(request: Request, run_id: str) -> Response:
    form = await checked_form(request)
    name = form.get("name").strip()
    if not name:
        raise InvalidParameterValue("The new name is empty")
    services_of(request).tracking.update_run(run_id, run_name=name)
    return redirect(request, f"/runs/{run_id}")


@router.post("/runs/{run_id}/tags", include_in_schema=False, openapi_extra=EDIT)
async def set_tag(request: Request, run_id: str) -> Response:
    form = await checked_form(request)
    key = form.get("key").strip()
    if not key:
        raise InvalidParameterValue("A tag needs a key")
    services_of(request).tracking.log_batch(run_id, tags=[RunTag(key, form.get("value"))])
    return redirect(request, f"/runs/{run_id}#tags")


@router.post("/runs/{run_id}/tags/delete", include_in_schema=False, openapi_extra=EDIT)
async def delete_tag(request: Request, run_id: str) -> Response:
    form = await checked_form(request)
    services_of(request).tracking.delete_tag(run_id, key=form.get("key"))
    return redirect(request, f"/runs/{run_id}#tags")
