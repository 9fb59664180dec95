"""The runs table of an experiment, its CSV download, and deleting/restoring selected runs."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from mltrail.entities import Experiment, Run
from mltrail.errors import InvalidParameterValue
from mltrail.server.services import services_of
from mltrail.server.ui.forms import checked_form, local_return_path, redirect
from mltrail.server.ui.routing import EDIT, PAGE, PageRoute
from mltrail.server.ui.runs_table import (
    FIXED_COLUMNS,
    PAGE_SIZES,
    VIEWS,
    Column,
    TableState,
    csv_header,
    csv_row,
    display,
    nest,
)
from mltrail.server.ui.templating import render

router = APIRouter(route_class=PageRoute)

DEFAULT_METRIC_COLUMNS = 3
DEFAULT_PARAM_COLUMNS = 3
CSV_BATCH = 1000
MAX_SELECTED = 1000


def _state(request: Request) -> TableState:
    return TableState.from_query(request.query_params, request.query_params.getlist("col"))


@router.get("/experiments/{experiment_id}", include_in_schema=False, openapi_extra=PAGE)
def runs_page(request: Request, experiment_id: str) -> Response:
    services = services_of(request)
    experiment = services.tracking.get_experiment(experiment_id)
    state = _state(request)
    keys = services.dashboard.column_keys(experiment.experiment_id)
    if not state.columns_chosen:
        state.columns = [Column("metrics", k) for k in keys.metrics[:DEFAULT_METRIC_COLUMNS]] + [
            Column("params", k) for k in keys.params[:DEFAULT_PARAM_COLUMNS]
        ]
    error = None
    runs: list[Run] = []
    next_token = None
    try:
        page = services.tracking.search_runs(
            [experiment.experiment_id],
            filter_string=state.filter_string(),
            view_type=VIEWS[state.view],
            max_results=state.size,
            order_by=state.order_by(),
            page_token=state.page,
        )
        runs, next_token = list(page), page.token
    except InvalidParameterValue as exc:
        error = exc.message
    offset = _offset(state.page)
    return render(
        request,
        "runs.html",
        title=experiment.name,
        experiment=experiment,
        state=state,
        keys=keys,
        rows=nest(runs),
        error=error,
        next_token=next_token,
        offset=offset,
        fixed_columns=FIXED_COLUMNS,
        page_sizes=PAGE_SIZES,
        display=display,
        chosen={c.id for c in state.columns},
    )


def _offset(token: str | None) -> int:
    from mltrail.paging import decode_token

    try:
        return decode_token(token)
    except InvalidParameterValue:
        return 0


@router.get("/experiments/{experiment_id}/runs.csv", include_in_schema=False, openapi_extra=PAGE)
def runs_csv(request: Request, experiment_id: str) -> Response:
    services = services_of(request)
    experiment = services.tracking.get_experiment(experiment_id)
    state = _state(request)
    if not state.columns_chosen:
        keys = services.dashboard.column_keys(experiment.experiment_id)
        state.columns = [Column("params", k) for k in keys.params] + [
            Column("metrics", k) for k in keys.metrics
        ]
    # Parse the filter before answering, so a bad one is an error page, not a broken download.
    first = services.tracking.search_runs(
        [experiment.experiment_id],
        filter_string=state.filter_string(),
        view_type=VIEWS[state.view],
        max_results=CSV_BATCH,
        order_by=state.order_by(),
    )

    def lines() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(csv_header(state.columns))
        page = first
        while True:
            for run in page:
                writer.writerow(csv_row(run, state.columns))
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            if not page.token:
                return
            page = services.tracking.search_runs(
                [experiment.experiment_id],
                filter_string=state.filter_string(),
                view_type=VIEWS[state.view],
                max_results=CSV_BATCH,
                order_by=state.order_by(),
                page_token=page.token,
            )

    filename = _safe_filename(experiment) + "-runs.csv"
    return StreamingResponse(
        lines(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _safe_filename(experiment: Experiment) -> str:
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in experiment.name)
    return name.strip("._")[:80] or f"experiment-{experiment.experiment_id}"


@router.post(
    "/experiments/{experiment_id}/runs/{action}", include_in_schema=False, openapi_extra=EDIT
)
async def change_runs(request: Request, experiment_id: str, action: str) -> Response:
    form = await checked_form(request)
    if action not in ("delete", "restore"):
        raise InvalidParameterValue(f"Unknown action {action!r}: use delete or restore")
    run_ids = form.all("run")
    if not run_ids:
        raise InvalidParameterValue("Select at least one run first")
    if len(run_ids) > MAX_SELECTED:
        raise InvalidParameterValue(f"At most {MAX_SELECTED} runs can be changed at once")
    tracking = services_of(request).tracking
    for run_id in run_ids:
        run = tracking.get_run(run_id)
        if run.info.experiment_id != experiment_id:
            raise InvalidParameterValue(f"Run {run_id} is not in experiment {experiment_id}")
        if action == "delete":
            tracking.delete_run(run_id)
        else:
            tracking.restore_run(run_id)
    fallback = f"/experiments/{experiment_id}"
    return redirect(request, local_return_path(request, form.get("next"), fallback=fallback))
