"""MLflow run routes (``/mlflow/runs/{create,get,update,delete,restore,search}``).

Dataset inputs and model outputs (``runs/log-inputs``, ``runs/outputs``) are kept in two
run tags holding JSON, ``mltrail.inputs`` and ``mltrail.outputs`` (see
docs/mlflow-compatibility.md); they are shown as the run's ``inputs`` and ``outputs`` and
left out of its tag list.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from mltrail.entities import MetricSummary, Run, RunStatus
from mltrail.server.api.mlflow import codec
from mltrail.server.api.mlflow.experiments import max_results, tag_pairs, view_type
from mltrail.server.api.mlflow.routing import Args, Call, MlflowRouter
from mltrail.server.api.mlflow.schema import (
    ARRAY,
    ENUM,
    INT,
    REQUIRED,
    STRING,
    STRING_ITEMS,
    at_most,
)
from mltrail.tracking_api import TrackingAPI

_router = MlflowRouter()

INPUTS_TAG = "mltrail.inputs"
OUTPUTS_TAG = "mltrail.outputs"
RUN_STATUSES = [s.value for s in RunStatus]
SEARCH_MAX_RESULTS = 50_000
SEARCH_DEFAULT_RESULTS = 1_000
RUN_ID = (("run_id", REQUIRED, STRING),)


def router() -> MlflowRouter:
    return _router


def run_id_of(args: Args) -> str:
    """``run_id``, or the legacy ``run_uuid`` the client also sends."""
    value = args.optional_string("run_id") or args.optional_string("run_uuid")
    if not value:
        return args.required_string("run_id")
    return value


def stored_json(run: Run, key: str) -> dict[str, Any]:
    raw = run.data.tags.get(key)
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _inputs(run: Run) -> dict[str, Any]:
    stored = stored_json(run, INPUTS_TAG)
    datasets = []
    for item in stored.get("datasets", []):
        dataset = {k: item[k] for k in ("name", "digest", "source_type", "source") if k in item}
        dataset.update({k: item[k] for k in ("schema", "profile") if item.get(k)})
        datasets.append(
            codec.compact({"tags": codec.key_values(item.get("tags", {})), "dataset": dataset})
        )
    models = [{"model_id": m} for m in stored.get("models", [])]
    return codec.compact({"dataset_inputs": datasets, "model_inputs": models})


def _outputs(run: Run) -> dict[str, Any]:
    stored = stored_json(run, OUTPUTS_TAG)
    models = [{"model_id": m["model_id"], "step": m["step"]} for m in stored.get("models", [])]
    return codec.compact({"model_outputs": models})


def render_run(
    tracking: TrackingAPI, run: Run, *, summaries: Sequence[MetricSummary] | None = None
) -> dict[str, Any]:
    if summaries is None:
        summaries = _summaries_of(run)
        if summaries is None:
            summaries = tracking.get_metric_summaries(run.info.run_id)
    return codec.run(
        run,
        latest_metrics=summaries,
        hidden_tags=(INPUTS_TAG, OUTPUTS_TAG),
        inputs=_inputs(run),
        outputs=_outputs(run),
    )


def _summaries_of(run: Run) -> Sequence[MetricSummary] | None:
    """The run's latest metrics with steps and timestamps, when it came with them."""
    carried = run.data.metric_summaries
    if len(carried) == len(run.data.metrics):
        return carried
    return None


def render_runs(tracking: TrackingAPI, runs: Sequence[Run]) -> list[dict[str, Any]]:
    """Runs of a search page. The SQL store reads their metric summaries with the page;
    otherwise they come from one query for the page, not one per run."""
    missing = [r.info.run_id for r in runs if _summaries_of(r) is None]
    fetched = tracking.get_metric_summaries_of_runs(missing) if missing else {}
    return [
        render_run(tracking, r, summaries=_summaries_of(r) or fetched.get(r.info.run_id, []))
        for r in runs
    ]


@_router.rpc(
    "POST",
    "/mlflow/runs/create",
    access="experiment:edit",
    schema=(("experiment_id", STRING), ("start_time", INT), ("run_name", STRING)),
)
def create_run(call: Call) -> dict[str, Any]:
    args = call.args
    run = call.tracking.create_run(
        # MLflow falls back to the Default experiment when none is given.
        args.optional_string("experiment_id") or "0",
        start_time=args.optional_integer("start_time"),
        tags=tag_pairs(args),
        run_name=args.optional_string("run_name") or None,
        user_id=args.optional_string("user_id") or None,
    )
    return {"run": render_run(call.tracking, run)}


@_router.rpc("GET", "/mlflow/runs/get", access="run:read", schema=RUN_ID)
def get_run(call: Call) -> dict[str, Any]:
    run = call.tracking.get_run(run_id_of(call.args))
    return {"run": render_run(call.tracking, run)}


@_router.rpc(
    "POST",
    "/mlflow/runs/update",
    access="run:edit",
    schema=(*RUN_ID, ("end_time", INT), ("status", ENUM), ("run_name", STRING)),
)
def update_run(call: Call) -> dict[str, Any]:
    args = call.args
    status = args.optional_enum("status", RUN_STATUSES)
    info = call.tracking.update_run(
        run_id_of(args),
        status=None if status is None else RunStatus(status),
        end_time=args.optional_integer("end_time"),
        run_name=args.optional_string("run_name") or None,
    )
    return {"run_info": codec.run_info(info)}


@_router.rpc("POST", "/mlflow/runs/delete", access="run:delete", schema=RUN_ID)
def delete_run(call: Call) -> dict[str, Any]:
    call.tracking.delete_run(run_id_of(call.args))
    return {}


@_router.rpc("POST", "/mlflow/runs/restore", access="run:delete", schema=RUN_ID)
def restore_run(call: Call) -> dict[str, Any]:
    call.tracking.restore_run(run_id_of(call.args))
    return {}


@_router.rpc(
    "POST",
    "/mlflow/runs/search",
    access="experiment:read",
    schema=(
        ("experiment_ids", ARRAY),
        ("filter", STRING),
        ("max_results", INT, at_most(SEARCH_MAX_RESULTS)),
        ("order_by", ARRAY, STRING_ITEMS),
    ),
)
def search_runs(call: Call) -> dict[str, Any]:
    args = call.args
    experiment_ids = args.string_list("experiment_ids")
    if not experiment_ids:
        return {}
    page = call.tracking.search_runs(
        experiment_ids,
        filter_string=args.string("filter"),
        view_type=view_type(args, "run_view_type"),
        max_results=max_results(args, default=SEARCH_DEFAULT_RESULTS, limit=SEARCH_MAX_RESULTS),
        order_by=args.string_list("order_by"),
        page_token=args.optional_string("page_token") or None,
    )
    runs = render_runs(call.tracking, list(page))
    return codec.paged("runs", runs, page.token)
