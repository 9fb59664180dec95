"""Comparing runs: a params/metrics table (optionally only differing rows), overlaid metric
charts, parallel coordinates and a scatter plot of any two params/metrics."""

from __future__ import annotations

import math
from dataclasses import dataclass

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from mltrail.entities import Run
from mltrail.errors import InvalidParameterValue
from mltrail.server.services import services_of
from mltrail.server.ui.routing import PAGE, PageRoute
from mltrail.server.ui.runs_table import display
from mltrail.server.ui.templating import render

router = APIRouter(route_class=PageRoute)

MAX_COMPARED = 100
DEFAULT_CHARTS = 6


@dataclass(frozen=True)
class CompareRow:
    kind: str
    key: str
    values: list[str]
    differs: bool


def _run_ids(request: Request) -> list[str]:
    ids: list[str] = []
    for value in request.query_params.getlist("runs") + request.query_params.getlist("run"):
        ids.extend(part.strip() for part in value.split(",") if part.strip())
    unique = list(dict.fromkeys(ids))
    if len(unique) > MAX_COMPARED:
        raise InvalidParameterValue(f"At most {MAX_COMPARED} runs can be compared at once")
    return unique


def _rows(runs: list[Run], kind: str) -> list[CompareRow]:
    keys = sorted({k for r in runs for k in getattr(r.data, kind)})
    rows = []
    for key in keys:
        raw = [getattr(r.data, kind).get(key) for r in runs]
        distinct = {repr(v) if isinstance(v, float) else v for v in raw}
        rows.append(CompareRow(kind, key, [display(v) for v in raw], len(distinct) > 1))
    return rows


def _numeric(value: str | float | None) -> float | str | None:
    if value is None:
        return None
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    try:
        number = float(value)
    except ValueError:
        return value
    return number if math.isfinite(number) else value


@router.get("/compare", include_in_schema=False, openapi_extra=PAGE)
def compare_page(request: Request) -> Response:
    tracking = services_of(request).tracking
    runs = [tracking.get_run(run_id) for run_id in _run_ids(request)]
    only_diff = request.query_params.get("diff") == "1"
    params = _rows(runs, "params")
    metrics = _rows(runs, "metrics")
    if only_diff:
        params = [r for r in params if r.differs]
        metrics = [r for r in metrics if r.differs]
    metric_keys = sorted({k for r in runs for k in r.data.metrics})
    chosen = [k for k in request.query_params.getlist("metric") if k in metric_keys]
    if not request.query_params.getlist("metric"):
        chosen = metric_keys[:DEFAULT_CHARTS]
    data = [
        {
            "id": r.info.run_id,
            "name": r.info.run_name or r.info.run_id,
            "values": {
                **{f"params.{k}": _numeric(v) for k, v in r.data.params.items()},
                **{f"metrics.{k}": _numeric(v) for k, v in r.data.metrics.items()},
            },
        }
        for r in runs
    ]
    experiments = {r.info.experiment_id for r in runs}
    return render(
        request,
        "compare.html",
        title="Compare runs",
        runs=runs,
        params=params,
        metrics=metrics,
        only_diff=only_diff,
        metric_keys=metric_keys,
        chosen_metrics=chosen,
        chart_runs=[{"id": d["id"], "name": d["name"]} for d in data],
        plot_data=data,
        experiment_id=next(iter(experiments)) if len(experiments) == 1 else None,
        run_ids=",".join(r.info.run_id for r in runs),
    )
