"""The wire protocol itself, with raw HTTP: shapes, validation, limits and quirks."""

from __future__ import annotations

import json

import httpx
import pytest

pytestmark = pytest.mark.mlflow


@pytest.fixture
def api(server):
    with httpx.Client(base_url=f"{server.url}/api/2.0/mlflow", timeout=60) as client:
        yield client


def _run(api: httpx.Client, experiment_id: str = "0") -> str:
    answer = api.post("/runs/create", json={"experiment_id": experiment_id, "start_time": 1})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["run"]["info"]["run_id"])


def _error(answer: httpx.Response, status: int, code: str) -> str:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["error_code"] == code
    assert isinstance(body["message"], str)
    return str(body["message"])


def test_run_shape_omits_empty_fields(api):
    answer = api.post(
        "/runs/create",
        json={"experiment_id": "0", "run_name": "r", "start_time": 5, "user_id": "u"},
    )
    run = answer.json()["run"]
    info = run["info"]
    assert info["run_id"] == info["run_uuid"]
    assert len(info["run_id"]) == 32
    assert info["status"] == "RUNNING"
    assert info["start_time"] == 5
    assert info["user_id"] == "u"
    assert info["lifecycle_stage"] == "active"
    assert "end_time" not in info
    assert run["inputs"] == {}
    assert "metrics" not in run["data"] and "params" not in run["data"]
    assert run["data"]["tags"] == [{"key": "mlflow.runName", "value": "r"}]
    ended = api.post(
        "/runs/update", json={"run_id": info["run_id"], "status": 3, "end_time": 9}
    ).json()
    assert ended["run_info"]["status"] == "FINISHED"
    assert ended["run_info"]["end_time"] == 9


def test_same_routes_under_ajax_api(server, api):
    rid = _run(api)
    answer = httpx.get(f"{server.url}/ajax-api/2.0/mlflow/runs/get", params={"run_id": rid})
    assert answer.json()["run"]["info"]["run_id"] == rid


def test_error_bodies_and_status_codes(server, api):
    _error(api.get("/runs/get", params={"run_id": "f" * 32}), 404, "RESOURCE_DOES_NOT_EXIST")
    _error(
        api.get("/experiments/get-by-name", params={"experiment_name": "nope"}),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    api.post("/experiments/create", json={"name": "dup"})
    _error(api.post("/experiments/create", json={"name": "dup"}), 400, "RESOURCE_ALREADY_EXISTS")
    message = _error(api.post("/experiments/create", json={}), 400, "INVALID_PARAMETER_VALUE")
    assert "Missing value for required parameter 'name'" in message
    message = _error(
        api.post("/experiments/create", json={"name": 31}), 400, "INVALID_PARAMETER_VALUE"
    )
    assert "Invalid value 31 for parameter 'name' supplied" in message
    _error(
        api.post("/experiments/create", json={"name": "t", "tags": "x"}),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    _error(
        api.post(
            "/runs/log-batch", content=b"{not json", headers={"Content-Type": "application/json"}
        ),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    _error(api.get("/no/such/route"), 404, "ENDPOINT_NOT_FOUND")
    _error(httpx.get(f"{server.url}/api/2.0/mlflow"), 404, "ENDPOINT_NOT_FOUND")


def test_request_conventions(api):
    # Double-encoded JSON bodies (old clients) and unknown fields.
    body = json.dumps(json.dumps({"name": "double", "surprise": {"x": 1}}))
    answer = api.post(
        "/experiments/create", content=body, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 200, answer.text
    exp_id = answer.json()["experiment_id"]
    assert (
        api.get("/experiments/get", params={"experiment_id": exp_id}).json()["experiment"]["name"]
        == "double"
    )
    # GET search with query parameters and a repeated order_by key.
    found = api.get(
        "/experiments/search",
        params=[("max_results", "10"), ("order_by", "name DESC"), ("filter", "name LIKE 'd%'")],
    ).json()
    assert [e["name"] for e in found["experiments"]] == ["double"]
    # run_uuid is accepted in place of run_id; enums by name or number.
    rid = _run(api)
    assert api.post("/runs/set-tag", json={"run_uuid": rid, "key": "k", "value": "v"}).json() == {}
    assert api.post("/runs/update", json={"run_uuid": rid, "status": "killed"}).status_code == 200
    deleted_view = api.post(
        "/experiments/search", json={"max_results": 5, "view_type": "DELETED_ONLY"}
    ).json()
    assert deleted_view == {}
    bad_enum = api.post("/runs/update", json={"run_id": rid, "status": "DONE"})
    _error(bad_enum, 400, "INVALID_PARAMETER_VALUE")


def test_log_batch_limits_and_validation(api):
    rid = _run(api)
    metrics = [{"key": "m", "value": 1.0, "timestamp": 1, "step": i} for i in range(1001)]
    message = _error(
        api.post("/runs/log-batch", json={"run_id": rid, "metrics": metrics}),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    assert "at most 1000 metrics" in message
    params = [{"key": f"p{i}", "value": "v"} for i in range(101)]
    message = _error(
        api.post("/runs/log-batch", json={"run_id": rid, "params": params}),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    assert message.startswith("A batch logging request can contain at most 100 params. Got 101")
    tags = [{"key": f"t{i}", "value": "v"} for i in range(101)]
    _error(
        api.post("/runs/log-batch", json={"run_id": rid, "tags": tags}),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    no_timestamp = {"run_id": rid, "metrics": [{"key": "m", "value": 1.0}]}
    _error(api.post("/runs/log-batch", json=no_timestamp), 400, "INVALID_PARAMETER_VALUE")
    no_step = {"run_id": rid, "metrics": [{"key": "m", "value": "-Infinity", "timestamp": 3}]}
    assert api.post("/runs/log-batch", json=no_step).json() == {}
    exactly = [{"key": "m", "value": 2.0, "timestamp": 4, "step": i} for i in range(1000)]
    assert api.post("/runs/log-batch", json={"run_id": rid, "metrics": exactly}).json() == {}
    history = api.get(
        "/metrics/get-history", params={"run_id": rid, "metric_key": "m", "max_results": 600}
    ).json()
    assert len(history["metrics"]) == 600
    rest = api.get(
        "/metrics/get-history",
        params={"run_id": rid, "metric_key": "m", "page_token": history["next_page_token"]},
    ).json()
    assert len(rest["metrics"]) == 401
    assert "next_page_token" not in rest
    assert history["metrics"][0] == {
        "key": "m", "value": -1.7976931348623157e308, "timestamp": 3, "step": 0
    }  # fmt: skip
    _error(
        api.post("/runs/log-batch", json={"run_id": rid, "metrics": "nope"}),
        400,
        "INVALID_PARAMETER_VALUE",
    )


def test_relogged_metric_with_model_id_is_not_a_second_point(api):
    rid = _run(api)
    point = {"key": "acc", "value": 0.5, "timestamp": 10, "step": 1}
    assert api.post("/runs/log-metric", json={"run_id": rid, **point}).json() == {}
    created = api.post("/logged-models", json={"experiment_id": "0", "source_run_id": rid})
    model_id = created.json()["model"]["info"]["model_id"]
    relog = {"run_id": rid, "metrics": [{**point, "model_id": model_id}]}
    assert api.post("/runs/log-batch", json=relog).json() == {}
    history = api.get("/metrics/get-history", params={"run_id": rid, "metric_key": "acc"}).json()
    assert history["metrics"] == [point]
    model = api.get(f"/logged-models/{model_id}").json()["model"]
    linked = [(m["key"], m["value"], m["step"]) for m in model["data"]["metrics"]]
    assert linked == [("acc", 0.5, 1)]


def test_history_bulk_interval_with_repeated_run_ids(api):
    first, second = _run(api), _run(api)
    for rid, scale in ((first, 1.0), (second, 10.0)):
        metrics = [
            {"key": "loss", "value": scale * i, "timestamp": i, "step": i} for i in range(50)
        ]
        api.post("/runs/log-batch", json={"run_id": rid, "metrics": metrics})
    answer = api.get(
        "/metrics/get-history-bulk-interval",
        params=[
            ("run_ids", first),
            ("run_ids", second),
            ("metric_key", "loss"),
            ("max_results", "10"),
        ],
    ).json()
    by_run: dict[str, list[int]] = {}
    for m in answer["metrics"]:
        by_run.setdefault(m["run_id"], []).append(m["step"])
    assert set(by_run) == {first, second}
    for steps in by_run.values():
        assert steps[0] == 0 and steps[-1] == 49
        assert len(steps) <= 12
    _error(
        api.get(
            "/metrics/get-history-bulk-interval",
            params={"run_ids": first, "metric_key": "loss", "start_step": 3},
        ),
        400,
        "INVALID_PARAMETER_VALUE",
    )


def test_deleted_run_rejects_writes(api):
    rid = _run(api)
    assert api.post("/runs/delete", json={"run_id": rid}).json() == {}
    message = _error(
        api.post("/runs/log-parameter", json={"run_id": rid, "key": "a", "value": "b"}),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    assert "active" in message
    _error(
        api.post("/runs/delete-tag", json={"run_id": rid, "key": "mlflow.runName"}),
        400,
        "INVALID_PARAMETER_VALUE",
    )
