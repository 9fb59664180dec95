"""The web-UI routes of the MLflow adapter go through the same permission checks.

Bob owns a run with a file, a metric, a dataset input and a logged model with files; Alice
tries every UI route on them: each answers as for a run or model that does not exist (or
contributes nothing, where MLflow skips unknown ids), and nothing is written.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from .conftest import AuthServer

API = "/api/2.0/mlflow"
AJAX = "/ajax-api/2.0/mlflow"
GHOST_RUN = "0" * 32


@pytest.fixture(scope="module")
def bobs(auth_server: AuthServer) -> dict[str, Any]:
    bob = auth_server.client("bob")
    exp = bob.post(f"{API}/experiments/create", json={"name": "bob-ui"}).json()["experiment_id"]
    run = bob.post(f"{API}/runs/create", json={"experiment_id": exp, "start_time": 1}).json()
    run_id = run["run"]["info"]["run_id"]
    bob.post(
        f"{API}/runs/log-metric",
        json={"run_id": run_id, "key": "loss", "value": 1.5, "timestamp": 1, "step": 0},
    ).raise_for_status()
    dataset = {"name": "d", "digest": "x", "source_type": "local", "source": "s"}
    bob.post(
        f"{API}/runs/log-inputs", json={"run_id": run_id, "datasets": [{"dataset": dataset}]}
    ).raise_for_status()
    bob.post(
        f"{AJAX}/upload-artifact", params={"run_uuid": run_id, "path": "s.txt"}, content=b"secret"
    ).raise_for_status()
    model = bob.post(f"{API}/logged-models", json={"experiment_id": exp}).json()["model"]["info"]
    folder = model["artifact_uri"].split("mlflow-artifacts:/", 1)[1]
    bob.put(
        f"/api/2.0/mlflow-artifacts/artifacts/{folder}/MLmodel", content=b"x"
    ).raise_for_status()
    bob.post(f"{API}/registered-models/create", json={"name": "bob-ui-model"}).raise_for_status()
    bob.post(
        f"{API}/model-versions/create",
        json={"name": "bob-ui-model", "source": f"models:/{model['model_id']}"},
    ).raise_for_status()
    assert bob.get("/get-artifact", params={"run_id": run_id, "path": "s.txt"}).content == b"secret"
    return {"exp": exp, "run": run_id, "model": model["model_id"]}


def _not_found(answer: Any) -> None:
    assert answer.status_code == 404, answer.text
    assert answer.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_other_users_runs_and_models_look_missing(
    auth_server: AuthServer, bobs: dict[str, Any]
) -> None:
    alice = auth_server.client("alice")
    run, model, exp = bobs["run"], bobs["model"], bobs["exp"]
    for run_id in (run, GHOST_RUN):
        _not_found(alice.get("/get-artifact", params={"run_id": run_id, "path": "s.txt"}))
        _not_found(
            alice.post(
                f"{AJAX}/upload-artifact",
                params={"run_uuid": run_id, "path": "x.txt"},
                content=b"x",
            )
        )
        model_json = json.dumps(
            {"artifact_path": "m", "flavors": {}, "utc_time_created": "t", "run_id": run_id}
        )
        _not_found(
            alice.post(f"{API}/runs/log-model", json={"run_id": run_id, "model_json": model_json})
        )
    _not_found(alice.get(f"{API}/logged-models/{model}/artifacts/directories"))
    _not_found(
        alice.get(
            f"{AJAX}/logged-models/{model}/artifacts/files",
            params={"artifact_file_path": "MLmodel"},
        )
    )
    _not_found(
        alice.get(
            "/model-versions/get-artifact",
            params={"name": "bob-ui-model", "version": "1", "path": "MLmodel"},
        )
    )
    bulk = alice.get(
        f"{AJAX}/metrics/get-history-bulk", params={"run_id": run, "metric_key": "loss"}
    )
    assert bulk.json() == {"metrics": []}
    interval = alice.get(
        f"{AJAX}/metrics/get-history-bulk-interval", params={"run_ids": run, "metric_key": "loss"}
    )
    assert interval.json() == {}
    datasets = alice.post(f"{AJAX}/experiments/search-datasets", json={"experiment_ids": [exp]})
    assert datasets.json() == {}
    query = 'query { mlflowGetRun(input: {runId: "RUN"}) { run { info { runName } } } }'
    query = query.replace("RUN", run)
    answer = alice.post("/graphql", json={"query": query}).json()
    assert answer == {"data": {"mlflowGetRun": None}, "errors": [f"Run with id={run} not found"]}
    search = 'mutation { mlflowSearchRuns(input: {experimentIds: ["EXP"]}) { runs { info { runUuid } } } }'
    search = search.replace("EXP", exp)
    assert alice.post("/graphql", json={"query": search}).json()["data"] == {
        "mlflowSearchRuns": {"runs": []}
    }
    # Nothing of Bob's changed.
    bob = auth_server.client("bob")
    files = bob.get(f"{API}/artifacts/list", params={"run_id": run}).json()["files"]
    assert [f["path"] for f in files] == ["s.txt"]
    tags = bob.get(f"{API}/runs/get", params={"run_id": run}).json()["run"]["data"].get("tags", [])
    assert not [t for t in tags if t["key"] == "mlflow.log-model.history"]


def test_anonymous_callers_are_refused(auth_server: AuthServer, bobs: dict[str, Any]) -> None:
    anonymous = auth_server.client()
    for answer in (
        anonymous.get("/get-artifact", params={"run_id": bobs["run"], "path": "s.txt"}),
        anonymous.post("/graphql", json={"query": 'query { test(inputString: "x") { output } }'}),
        anonymous.get(
            f"{AJAX}/metrics/get-history-bulk", params={"run_id": bobs["run"], "metric_key": "loss"}
        ),
    ):
        assert answer.status_code == 401, answer.text
