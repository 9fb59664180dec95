"""``experiments/search-datasets``: the datasets the runs of some experiments used (web UI only).

Datasets are kept per run in the ``mltrail.inputs`` tag (see :mod:`.runs`); this reads that
tag from the runs of the experiments (deleted runs included, as MLflow's datasets table
keeps them) through the permission-checked run search, and answers one summary per
(experiment, name, digest, context) with MLflow's limits.
"""

from __future__ import annotations

from typing import Any

from mltrail.entities import ViewType
from mltrail.errors import InvalidParameterValue
from mltrail.server.api.mlflow import codec
from mltrail.server.api.mlflow.routing import Call, MlflowRouter
from mltrail.server.api.mlflow.runs import INPUTS_TAG, stored_json

_router = MlflowRouter()

MAX_EXPERIMENTS = 20
MAX_SUMMARIES = 1000
CONTEXT_TAG = "mlflow.data.context"
_PAGE = 5000


def router() -> MlflowRouter:
    return _router


@_router.rpc("POST", "/mlflow/experiments/search-datasets", access="experiment:read", api=False)
def search_datasets(call: Call) -> dict[str, Any]:
    experiment_ids = call.args.string_list("experiment_ids")
    if not experiment_ids:
        raise InvalidParameterValue(
            "SearchDatasets request must specify at least one experiment_id."
        )
    if len(experiment_ids) > MAX_EXPERIMENTS:
        raise InvalidParameterValue(
            f"SearchDatasets request cannot specify more than {MAX_EXPERIMENTS} experiment_ids. "
            f"Received {len(experiment_ids)} experiment_ids."
        )
    summaries: dict[tuple[str, str, str, str | None], None] = {}
    token: str | None = None
    while len(summaries) < MAX_SUMMARIES:
        page = call.tracking.search_runs(
            experiment_ids,
            filter_string=f"tags.`{INPUTS_TAG}` IS NOT NULL",
            view_type=ViewType.ALL,
            max_results=_PAGE,
            page_token=token,
        )
        for run in page:
            for dataset in stored_json(run, INPUTS_TAG).get("datasets", []):
                context = (dataset.get("tags") or {}).get(CONTEXT_TAG)
                key = (run.info.experiment_id, dataset.get("name"), dataset.get("digest"), context)
                summaries.setdefault(key, None)
        token = page.token
        if not token:
            break
    out = [
        codec.compact({"experiment_id": e, "name": n, "digest": d, "context": c})
        for e, n, d, c in list(summaries)[:MAX_SUMMARIES]
    ]
    return codec.compact({"dataset_summaries": out})
