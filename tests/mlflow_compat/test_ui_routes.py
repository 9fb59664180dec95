"""The routes MLflow's web UI calls besides the REST API, with raw HTTP against the app.

get-history-bulk, get-history-bulk-interval's sampling, experiments/search-datasets,
upload-artifact, /get-artifact, /model-versions/get-artifact, the logged-model artifact
listing and download, the legacy runs/log-model, and /graphql. Expected answers were taken
from MLflow 3.17.2 run side by side with the same requests.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from mltrail.config import load_settings
from mltrail.server.app import create_app

API = "/api/2.0/mlflow"
AJAX = "/ajax-api/2.0/mlflow"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = load_settings(
        {},
        backend_store_uri=f"sqlite:///{tmp_path / 'db.sqlite'}",
        artifacts_destination=str(tmp_path / "artifacts"),
        no_auth=True,
    )
    # The default Host allow-list of a loopback server takes loopback names only.
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as test_client:
        yield test_client


def _ok(answer: Any) -> Any:
    assert answer.status_code == 200, answer.text
    return answer.json() if answer.content else None


def _error(answer: Any, status: int = 400, code: str = "INVALID_PARAMETER_VALUE") -> str:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["error_code"] == code
    return str(body["message"])


def _experiment(client: TestClient, name: str = "e") -> str:
    return str(_ok(client.post(f"{API}/experiments/create", json={"name": name}))["experiment_id"])


def _run(client: TestClient, experiment_id: str) -> dict[str, Any]:
    body = {"experiment_id": experiment_id, "start_time": 1}
    return dict(_ok(client.post(f"{API}/runs/create", json=body))["run"]["info"])


def _log(
    client: TestClient, run_id: str, points: list[tuple[int, int, Any]], key: str = "m"
) -> None:
    metrics = [{"key": key, "value": v, "timestamp": t, "step": s} for s, t, v in points]
    _ok(client.post(f"{API}/runs/log-batch", json={"run_id": run_id, "metrics": metrics}))


# -- metric histories ------------------------------------------------------------------
def test_history_bulk_validation_and_order(client: TestClient) -> None:
    url = f"{AJAX}/metrics/get-history-bulk"
    message = _error(client.get(url, params={"metric_key": "k"}))
    assert message == "GetMetricHistoryBulk request must specify at least one run_id."
    too_many = [("run_id", f"id_{i}") for i in range(101)] + [("metric_key", "k")]
    assert "cannot specify more than 100 run_ids. Received 101" in _error(
        client.get(url, params=too_many)
    )
    assert _error(client.get(url, params={"run_id": "x"})) == (
        "GetMetricHistoryBulk request must specify a metric_key."
    )
    assert client.get(f"{API}/metrics/get-history-bulk", params={"run_id": "x"}).status_code == 404

    exp = _experiment(client)
    first, second = (_run(client, exp)["run_id"] for _ in range(2))
    history = [(2, 1, 10.0), (3, 1, 11.0), (3, 1, 12.0), (3, 2, 12.0)]
    _log(client, first, history)
    _log(client, second, [(s, t, v + 1) for s, t, v in history])
    answer = _ok(
        client.get(
            url,
            params=[
                ("run_id", second),
                ("run_id", first),
                ("run_id", "f" * 32),
                ("metric_key", "m"),
            ],
        )
    )
    expected = [
        {"key": "m", "value": v + (run == second), "timestamp": t, "step": s, "run_id": run}
        for run in sorted([first, second])
        for s, t, v in history
    ]
    assert answer["metrics"] == expected
    limited = _ok(client.get(url, params={"run_id": first, "metric_key": "m", "max_results": 2}))
    assert [(m["step"], m["value"]) for m in limited["metrics"]] == [(2, 10.0), (3, 11.0)]


def test_history_bulk_interval_samples_as_mlflow(client: TestClient) -> None:
    url = f"{AJAX}/metrics/get-history-bulk-interval"
    exp = _experiment(client)
    runs = [_run(client, exp)["run_id"] for _ in range(3)]
    for run_id, count in zip(runs, (10, 20, 7), strict=True):
        points = [(i, 1, float(i)) for i in range(count)]
        points += [(i, 2, i + 0.5) for i in range(0, count, 3)]
        points.append((count, 3, "NaN"))
        _log(client, run_id, points)

    def steps(max_results: int, **extra: Any) -> dict[int, list[tuple[int, int]]]:
        params = [("run_ids", r) for r in runs] + [
            ("metric_key", "m"),
            ("max_results", max_results),
        ]
        params += list(extra.items())
        out: dict[int, list[tuple[int, int]]] = {}
        for m in _ok(client.get(url, params=params))["metrics"]:
            out.setdefault(runs.index(m["run_id"]), []).append((m["step"], m["timestamp"]))
        return out

    # MLflow 3.17.2 answered exactly these (NTILE buckets, the last point kept).
    assert steps(5) == {
        0: [(0, 1), (2, 1), (4, 1), (6, 2), (10, 3)],
        1: [(0, 1), (4, 1), (9, 1), (13, 1), (20, 3)],
        2: [(0, 1), (2, 1), (3, 2), (5, 1), (7, 3)],
    }
    assert steps(1) == {0: [(10, 3)], 1: [(20, 3)], 2: [(7, 3)]}
    assert len(steps(2500)[1]) == 28
    ranged = _ok(
        client.get(
            url,
            params={
                "run_ids": runs[1],
                "metric_key": "m",
                "start_step": 3,
                "end_step": 9,
                "max_results": 4,
            },
        )
    )
    assert [(m["step"], m["timestamp"]) for m in ranged["metrics"]] == [
        (3, 1),
        (5, 1),
        (7, 1),
        (9, 2),
    ]
    nan = _ok(client.get(url, params={"run_ids": runs[2], "metric_key": "m", "max_results": 1}))
    assert nan["metrics"][0]["value"] == "NaN"
    assert _ok(client.get(url, params={"run_ids": "f" * 32, "metric_key": "m"})) == {}

    def message(**params: Any) -> str:
        return _error(client.get(url, params=params))

    assert message(metric_key="m").startswith("Missing value for required parameter 'run_ids'.")
    assert message(run_ids="x", metric_key="").startswith(
        "Missing value for required parameter 'metric_key'."
    )
    assert message(run_ids="x", metric_key="m", max_results=0).startswith(
        "max_results must be between 1 and 2500."
    )
    assert message(run_ids="x", metric_key="m", start_step=2, end_step=1) == (
        "end_step must be greater than start_step. Found start_step=2 and end_step=1."
    )
    assert message(run_ids="x", metric_key="m", start_step=1) == (
        "If either start step or end step are specified, both must be specified."
    )
    many = [("run_ids", f"id{i}") for i in range(101)] + [("metric_key", "m")]
    assert _error(client.get(url, params=many)).startswith(
        "GetMetricHistoryBulkInterval request must specify at most 100 run_ids. Received 101"
    )


# -- datasets ----------------------------------------------------------------------------
def test_search_datasets(client: TestClient) -> None:
    url = f"{AJAX}/experiments/search-datasets"
    exp, other = _experiment(client, "a"), _experiment(client, "b")
    dataset = {"name": "n1", "digest": "d1", "source_type": "local", "source": "s"}
    context = [{"key": "mlflow.data.context", "value": "training"}]
    for experiment in (exp, other):
        run_id = _run(client, experiment)["run_id"]
        inputs = [{"dataset": dataset, "tags": context}, {"dataset": {**dataset, "name": "n2"}}]
        _ok(client.post(f"{API}/runs/log-inputs", json={"run_id": run_id, "datasets": inputs}))
    deleted = _run(client, exp)["run_id"]
    _ok(
        client.post(
            f"{API}/runs/log-inputs",
            json={"run_id": deleted, "datasets": [{"dataset": {**dataset, "name": "n3"}}]},
        )
    )
    _ok(client.post(f"{API}/runs/delete", json={"run_id": deleted}))
    found = _ok(client.post(url, json={"experiment_ids": [exp]}))["dataset_summaries"]
    assert sorted(found, key=lambda d: d["name"]) == [
        {"experiment_id": exp, "name": "n1", "digest": "d1", "context": "training"},
        {"experiment_id": exp, "name": "n2", "digest": "d1"},
        {"experiment_id": exp, "name": "n3", "digest": "d1"},
    ]
    assert _ok(client.post(url, json={"experiment_ids": ["987"]})) == {}
    for body in ({}, {"experiment_ids": []}):
        assert _error(client.post(url, json=body)) == (
            "SearchDatasets request must specify at least one experiment_id."
        )
    assert "cannot specify more than 20 experiment_ids. Received 21" in _error(
        client.post(url, json={"experiment_ids": [str(i) for i in range(21)]})
    )


# -- artifacts ---------------------------------------------------------------------------
def test_upload_then_get_artifact(client: TestClient, tmp_path: Path) -> None:
    url = f"{AJAX}/upload-artifact"
    run = _run(client, _experiment(client))
    run_id = run["run_id"]
    assert _error(client.post(url)) == "Request must specify run_uuid."
    assert _error(client.post(url, params={"run_uuid": run_id})) == "Request must specify path."
    assert _error(client.post(url, params={"run_uuid": run_id, "path": ""})) == (
        "Request must specify path."
    )
    for bad in ("../test.txt", "/etc/passwd", "a/%2e%2e/b"):
        assert (
            _error(client.post(url, params={"run_uuid": run_id, "path": bad}, content=b"x"))
            == "Invalid path"
        )
    assert _error(client.post(url, params={"run_uuid": run_id, "path": "t.txt"})) == (
        "Request must specify data."
    )
    too_big = b"x" * (10 * 1024 * 1024 + 1)
    assert _error(
        client.post(url, params={"run_uuid": run_id, "path": "t.txt"}, content=too_big)
    ) == ("Artifact size is too large. Max size is 10MB.")
    answer = client.post(
        url, params={"run_uuid": run_id, "path": "dir/t.txt"}, content=b"hello world"
    )
    assert answer.status_code == 200 and answer.content == b""
    folder = run["artifact_uri"].split("mlflow-artifacts:/", 1)[1]
    assert (tmp_path / "artifacts" / folder / "dir" / "t.txt").read_bytes() == b"hello world"

    got = client.get("/get-artifact", params={"run_uuid": run_id, "path": "dir/t.txt"})
    assert got.status_code == 200 and got.content == b"hello world"
    assert got.headers["content-disposition"].startswith("attachment")
    assert got.headers["x-content-type-options"] == "nosniff"
    part = client.get(
        "/get-artifact",
        params={"run_id": run_id, "path": "dir/t.txt"},
        headers={"Range": "bytes=6-"},
    )
    assert part.status_code == 206 and part.content == b"world"
    assert (
        _error(client.get("/get-artifact", params={"run_id": run_id, "path": "../x"}))
        == "Invalid path"
    )
    _error(
        client.get("/get-artifact", params={"run_id": run_id, "path": "nope"}),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    _error(client.get("/get-artifact", params={"run_id": run_id, "path": "dir"}))
    _error(
        client.get("/get-artifact", params={"run_id": "f" * 32, "path": "a"}),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    listed = _ok(client.get(f"{API}/artifacts/list", params={"run_id": run_id, "path": "dir"}))
    assert listed["files"] == [{"path": "dir/t.txt", "is_dir": False, "file_size": 11}]


def test_model_version_and_logged_model_artifacts(client: TestClient) -> None:
    exp = _experiment(client)
    run = _run(client, exp)
    model = _ok(
        client.post(
            f"{API}/logged-models", json={"experiment_id": exp, "source_run_id": run["run_id"]}
        )
    )["model"]["info"]
    model_id, location = model["model_id"], model["artifact_uri"]
    folder = location.split("mlflow-artifacts:/", 1)[1]
    for name, body in (("MLmodel", b"flavors: {}\n"), ("sub/weights.bin", b"\x00\x01")):
        _ok(client.put(f"/api/2.0/mlflow-artifacts/artifacts/{folder}/{name}", content=body))

    listing = _ok(client.get(f"{API}/logged-models/{model_id}/artifacts/directories"))
    assert listing == {
        "root_uri": location,
        "files": [
            {"path": "sub", "is_dir": True},
            {"path": "MLmodel", "is_dir": False, "file_size": 12},
        ],
    }
    nested = _ok(
        client.get(
            f"{AJAX}/logged-models/{model_id}/artifacts/directories",
            params={"artifact_directory_path": "sub"},
        )
    )
    assert nested["files"] == [{"path": "sub/weights.bin", "is_dir": False, "file_size": 2}]
    assert (
        _error(
            client.get(
                f"{API}/logged-models/{model_id}/artifacts/directories",
                params={"artifact_directory_path": "../x"},
            )
        )
        == "Invalid path"
    )
    _error(
        client.get(f"{API}/logged-models/m-{'0' * 32}/artifacts/directories"),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )

    files = f"{AJAX}/logged-models/{model_id}/artifacts/files"
    assert (
        client.get(files, params={"artifact_file_path": "sub/weights.bin"}).content == b"\x00\x01"
    )
    assert _error(client.get(files), 400, "BAD_REQUEST") == (
        'Request must include the "artifact_file_path" query parameter.'
    )
    assert _error(client.get(files, params={"artifact_file_path": "../../x"})) == "Invalid path"
    assert client.get(f"{API}/logged-models/{model_id}/artifacts/files").status_code == 404

    _ok(client.post(f"{API}/registered-models/create", json={"name": "M"}))
    _ok(
        client.post(
            f"{API}/model-versions/create", json={"name": "M", "source": f"models:/{model_id}"}
        )
    )
    mlmodel = client.get(
        "/model-versions/get-artifact", params={"name": "M", "version": "1", "path": "MLmodel"}
    )
    assert mlmodel.status_code == 200 and mlmodel.content == b"flavors: {}\n"
    bad = client.get(
        "/model-versions/get-artifact", params={"name": "M", "version": "1", "path": "../path"}
    )
    assert _error(bad) == "Invalid path"
    _error(
        client.get(
            "/model-versions/get-artifact", params={"name": "M", "version": "9", "path": "MLmodel"}
        ),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )


def test_legacy_log_model_appends_to_the_history_tag(client: TestClient) -> None:
    run_id = _run(client, _experiment(client))["run_id"]
    url = f"{API}/runs/log-model"
    model = {
        "artifact_path": "model",
        "flavors": {"python_function": {"loader_module": "x", "config": {"a": 1}}},
        "utc_time_created": "2024-01-01 00:00:00.000000",
        "run_id": run_id,
        "model_uuid": "u1",
        "signature": None,
    }
    for _ in range(2):
        _ok(client.post(url, json={"run_id": run_id, "model_json": json.dumps(model)}))
    tags = _ok(client.get(f"{API}/runs/get", params={"run_id": run_id}))["run"]["data"]["tags"]
    history = json.loads(next(t["value"] for t in tags if t["key"] == "mlflow.log-model.history"))
    entry = {
        "run_id": run_id,
        "artifact_path": "model",
        "utc_time_created": "2024-01-01 00:00:00.000000",
        "model_uuid": "u1",
        "flavors": {"python_function": {"loader_module": "x"}},
    }
    assert history == [entry, entry]
    assert _error(client.post(url, json={"run_id": run_id, "model_json": "{nope"})) == (
        "Malformed model info. \n {nope \n is not a valid JSON."
    )
    missing = _error(
        client.post(
            url,
            json={
                "run_id": run_id,
                "model_json": json.dumps({"artifact_path": "m", "flavors": {}, "run_id": "x"}),
            },
        )
    )
    assert missing == "Model json is missing mandatory fields: {'utc_time_created'}"
    assert _error(client.post(url, json={"run_id": run_id})).startswith(
        "Missing value for required parameter 'model_json'."
    )


# -- GraphQL -----------------------------------------------------------------------------
GET_RUN = """
query GetRun($data: MlflowGetRunInput!) @component(name: "MLflow.ExperimentRunTracking") {
  mlflowGetRun(input: $data) {
    apiError { helpUrl code message }
    run {
      info { runName status runUuid experimentId endTime lifecycleStage startTime }
      experiment { experimentId name tags { key value } lifecycleStage }
      modelVersions { status version name source }
      data { metrics { key value step timestamp } params { key value } tags { key value } }
      inputs { datasetInputs { dataset { digest name } } modelInputs { modelId } }
      outputs { modelOutputs { modelId step } }
    }
  }
}
"""


def _graphql(client: TestClient, query: str, variables: dict[str, Any] | None = None) -> Any:
    return _ok(client.post("/graphql", json={"query": query, "variables": variables}))


def test_graphql_run_as_the_web_ui_asks_for_it(client: TestClient) -> None:
    exp = _experiment(client, "g")
    run_id = _run(client, exp)["run_id"]
    _log(client, run_id, [(1, 5, 1.5)], key="m")
    _log(client, run_id, [(1, 5, "NaN")], key="n")
    _log(client, run_id, [(1, 5, "Infinity")], key="i")
    _ok(client.post(f"{API}/registered-models/create", json={"name": "g"}))
    _ok(
        client.post(
            f"{API}/model-versions/create",
            json={"name": "g", "source": f"runs:/{run_id}/model", "run_id": run_id},
        )
    )
    answer = _graphql(client, GET_RUN, {"data": {"runId": run_id}})
    assert answer["errors"] is None
    run = answer["data"]["mlflowGetRun"]["run"]
    assert answer["data"]["mlflowGetRun"]["apiError"] is None
    assert run["info"] == {
        "runName": run["info"]["runName"], "status": "RUNNING", "runUuid": run_id,
        "experimentId": exp, "endTime": "0", "lifecycleStage": "active", "startTime": "1",
    }  # fmt: skip
    assert run["experiment"] == {
        "experimentId": exp,
        "name": "g",
        "tags": [],
        "lifecycleStage": "active",
    }
    assert run["modelVersions"] == [
        {"status": "READY", "version": "1", "name": "g", "source": f"runs:/{run_id}/model"}
    ]
    metrics = {m["key"]: m for m in run["data"]["metrics"]}
    assert metrics["m"] == {"key": "m", "value": 1.5, "step": "1", "timestamp": "5"}
    assert metrics["n"]["value"] is None  # NaN is not a GraphQL Float
    assert metrics["i"]["value"] == 1.7976931348623157e308
    assert run["inputs"] == {"datasetInputs": [], "modelInputs": []}
    assert run["outputs"] == {"modelOutputs": []}

    missing = _graphql(client, GET_RUN, {"data": {"runId": "f" * 32}})
    assert missing["data"] == {"mlflowGetRun": None}
    assert missing["errors"] == [f"Run with id={'f' * 32} not found"]


def test_graphql_searches_and_metric_intervals(client: TestClient) -> None:
    exp = _experiment(client, "s")
    run_id = _run(client, exp)["run_id"]
    _log(client, run_id, [(i, 1, float(i)) for i in range(10)] + [(10, 1, "NaN")])
    search = """query S($data: MlflowSearchRunsInput!) { mlflowSearchRuns(input: $data) {
        runs { info { runUuid } } nextPageToken } }"""
    for kind in ("query", "mutation"):
        found = _graphql(
            client,
            search.replace("query", kind, 1),
            {"data": {"experimentIds": [exp], "runViewType": "ACTIVE_ONLY"}},
        )
        assert found == {
            "data": {
                "mlflowSearchRuns": {"runs": [{"info": {"runUuid": run_id}}], "nextPageToken": ""}
            },
            "errors": None,
        }
    bulk = """query B($data: MlflowGetMetricHistoryBulkIntervalInput!) {
        mlflowGetMetricHistoryBulkInterval(input: $data) { __typename metrics { step value runId } } }"""
    answer = _graphql(
        client, bulk, {"data": {"runIds": [run_id], "metricKey": "m", "maxResults": 3}}
    )
    assert [m["step"] for m in answer["data"]["mlflowGetMetricHistoryBulkInterval"]["metrics"]] == [
        "0",
        "4",
        "10",
    ]
    # As in MLflow, a NaN point of this type is a field error (its value is null).
    assert answer["errors"] == ["Float cannot represent non numeric value: nan"]
    listing = _graphql(
        client,
        f'query {{ mlflowListArtifacts(input: {{runId: "{run_id}"}}) {{ files {{ path }} rootUri }} }}',
    )
    assert listing["data"]["mlflowListArtifacts"]["files"] == []
    datasets = _graphql(
        client,
        f'mutation {{ mlflowSearchDatasets(input: {{experimentIds: ["{exp}"]}}) {{ datasetSummaries {{ name }} }} }}',
    )
    assert datasets == {"data": {"mlflowSearchDatasets": {"datasetSummaries": []}}, "errors": None}
    echo = _graphql(client, 'query testQuery {test(inputString: "abc") { output }}')
    assert echo == {"data": {"test": {"output": "abc"}}, "errors": None}


def test_graphql_batching_limits_and_bad_documents(client: TestClient) -> None:
    roots = " ".join(f'a{i}: test(inputString: "x") {{ output }}' for i in range(11))
    assert _graphql(client, f"query {{ {roots} }}") == {
        "data": None,
        "errors": ["GraphQL queries should have at most 10 root fields, got 11 root fields."],
    }
    aliases = " ".join(f"o{i}: output" for i in range(11))
    assert _graphql(client, f'query {{ test(inputString: "x") {{ {aliases} }} }}')["errors"] == [
        "GraphQL queries should have at most 10 aliases, got 11 aliases."
    ]
    deep = "query { " + "a { " * 11 + "b" + " }" * 11 + " }"
    assert _graphql(client, deep)["errors"] == ["Query exceeds maximum depth of 10"]
    wide = (
        'fragment F on Test { output } query { test(inputString: "x") { '
        + " ".join(["...F"] * 3)
        + " } }"
    )
    assert _graphql(client, wide)["errors"] is None
    assert _graphql(client, "query { nope }")["errors"] == [
        "Cannot query field 'nope' on type 'Query'."
    ]
    assert "Malformed GraphQL query" in _error(client.post("/graphql", json={"query": "query {"}))
    assert _error(client.post("/graphql", json={})) == "A GraphQL request needs a 'query' string."
