"""The scoring protocol in-process: every input format, the answers, and every bad input."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from starlette.testclient import TestClient

import mltrail.pyfunc
from mltrail.serving import scoring_app
from mltrail.serving.metrics import sample_value

from .conftest import FEATURES, mixed_frame, training_frame


@pytest.fixture
def ridge(ridge_dir: Path) -> Iterator[TestClient]:
    with TestClient(scoring_app(str(ridge_dir), max_batch_rows=50, max_body_bytes=200_000)) as c:
        yield c


@pytest.fixture
def mixed(mixed_dir: Path) -> Iterator[TestClient]:
    with TestClient(scoring_app(str(mixed_dir))) as c:
        yield c


def expected(model_dir: Path, frame: pd.DataFrame) -> list[Any]:
    return list(mltrail.pyfunc.load_model(model_dir).predict(frame).tolist())


def post_json(client: TestClient, body: Any) -> Any:
    return client.post("/invocations", json=body)


def test_every_json_format_and_csv_give_the_model_predictions(
    ridge: TestClient, ridge_dir: Path
) -> None:
    frame = training_frame(5, seed=3)[0]
    want = expected(ridge_dir, frame)
    bodies = [
        {"dataframe_split": frame.to_dict(orient="split", index=False)},
        {"dataframe_records": frame.to_dict(orient="records")},
        {"instances": frame.to_dict(orient="records")},
        {"inputs": frame.to_dict(orient="list")},
        {"inputs": frame.to_numpy().tolist()},
        {"dataframe_records": frame.to_dict(orient="records"), "params": {"anything": 1}},
    ]
    for body in bodies:
        answer = post_json(ridge, body)
        assert answer.status_code == 200, (body, answer.text)
        assert answer.json() == {"predictions": want}
    csv = ridge.post(
        "/invocations",
        content=frame.to_csv(index=False),
        headers={"content-type": "text/csv; charset=utf-8"},
    )
    assert csv.status_code == 200 and csv.json() == {"predictions": want}


def test_columns_in_another_order_integers_and_extra_columns_are_accepted(
    ridge: TestClient, ridge_dir: Path
) -> None:
    frame = training_frame(3, seed=4)[0]
    want = expected(ridge_dir, frame)
    shuffled = frame[FEATURES[::-1]]
    assert post_json(
        ridge, {"dataframe_split": shuffled.to_dict(orient="split", index=False)}
    ).json() == {"predictions": want}
    extra = frame.assign(unused="text")
    assert post_json(ridge, {"dataframe_records": extra.to_dict(orient="records")}).json() == {
        "predictions": want
    }
    whole = frame.round(0)
    as_ints = [{k: int(v) for k, v in r.items()} for r in whole.to_dict(orient="records")]
    assert post_json(ridge, {"dataframe_records": as_ints}).json() == {
        "predictions": expected(ridge_dir, whole)
    }


@pytest.mark.parametrize(
    ("record", "column", "words"),
    [
        (
            {"f1": 1.0, "f2": 1.0, "f3": 1.0, "f4": 1.0, "f5": 1.0},
            "f0",
            "missing input column 'f0'",
        ),
        (
            {"f0": "high", "f1": 1.0, "f2": 1.0, "f3": 1.0, "f4": 1.0, "f5": 1.0},
            "f0",
            "expects double",
        ),
        ({"f0": None, "f1": 1.0, "f2": 1.0, "f3": 1.0, "f4": 1.0, "f5": 1.0}, "f0", "required"),
        (
            {"f0": [1, 2], "f1": 1.0, "f2": 1.0, "f3": 1.0, "f4": 1.0, "f5": 1.0},
            "f0",
            "expects double",
        ),
    ],
)
def test_signature_violations_are_400_naming_the_column(
    ridge: TestClient, record: dict[str, Any], column: str, words: str
) -> None:
    answer = post_json(ridge, {"dataframe_records": [record, record]})
    assert answer.status_code == 400
    body = answer.json()
    assert body["error_code"] == "INVALID_PARAMETER_VALUE"
    assert f"'{column}'" in body["message"] and words in body["message"]
    assert body["details"] == {"column": column}


def test_mixed_types_are_checked_per_column(mixed: TestClient, mixed_dir: Path) -> None:
    frame = mixed_frame(4)[0]
    ok = post_json(mixed, {"dataframe_split": frame.to_dict(orient="split", index=False)})
    assert ok.status_code == 200 and ok.json() == {"predictions": expected(mixed_dir, frame)}
    cases = [
        ({"amount": 1.0, "visits": 2.5, "plan": "pro"}, "visits", "whole numbers"),
        ({"amount": 1.0, "visits": "two", "plan": "pro"}, "visits", "expects long"),
        ({"amount": 1.0, "visits": 2, "plan": 7}, "plan", "expects string"),
        ({"amount": 1.0, "visits": 2**70, "plan": "pro"}, "visits", "cannot hold"),
    ]
    for record, column, words in cases:
        answer = post_json(mixed, {"dataframe_records": [record]})
        assert answer.status_code == 400, answer.text
        assert f"'{column}'" in answer.json()["message"] and words in answer.json()["message"], (
            answer.text
        )


@pytest.mark.parametrize(
    ("content", "content_type", "status", "code"),
    [
        (b"{", "application/json", 400, "BAD_REQUEST"),
        (b"[1, 2]", "application/json", 400, "BAD_REQUEST"),
        (b'{"inputs": [], "instances": []}', "application/json", 400, "BAD_REQUEST"),
        (b'{"columns": ["f0"], "data": [[1]]}', "application/json", 400, "BAD_REQUEST"),
        (b'{"dataframe_split": {"data": [[1, 2]]}}', "application/json", 400, "BAD_REQUEST"),
        (b"f0\n1\n", "text/plain", 415, "BAD_REQUEST"),
        (b"{}", "application/json; charset=latin-1", 415, "BAD_REQUEST"),
        (b"\xff\xfe", "text/csv", 400, "BAD_REQUEST"),
    ],
)
def test_bad_bodies_are_clear_4xx(
    ridge: TestClient, content: bytes, content_type: str, status: int, code: str
) -> None:
    answer = ridge.post("/invocations", content=content, headers={"content-type": content_type})
    assert answer.status_code == status, answer.text
    assert answer.json()["error_code"] == code
    assert "Traceback" not in answer.text


def test_limits_on_body_size_and_rows(ridge: TestClient) -> None:
    big = b'{"inputs": [' + b",".join([b"[1.0,2.0,3.0,4.0,5.0,6.0]"] * 20_000) + b"]}"
    answer = ridge.post("/invocations", content=big, headers={"content-type": "application/json"})
    assert answer.status_code == 413 and "--max-body-size" in answer.json()["message"]
    rows = {"inputs": [[1.0] * 6] * 51}
    answer = post_json(ridge, rows)
    assert answer.status_code == 413 and "--max-batch-rows" in answer.json()["message"]
    assert post_json(ridge, {"inputs": [[1.0] * 6] * 50}).status_code == 200


def test_a_model_failure_is_a_400_and_the_server_keeps_serving(ridge: TestClient) -> None:
    # NaN passes the signature (it is a double) but Ridge refuses it.
    answer = ridge.post(
        "/invocations",
        content=b'{"inputs": [[NaN, 1, 1, 1, 1, 1]]}',
        headers={"content-type": "application/json"},
    )
    assert answer.status_code == 400 and "model failed" in answer.json()["message"]
    assert post_json(ridge, {"inputs": [[1.0] * 6]}).status_code == 200


def test_ping_health_version_and_unknown_routes(ridge: TestClient, ridge_dir: Path) -> None:
    for path in ("/ping", "/health"):
        assert ridge.get(path).status_code == 200
    version = ridge.get("/version").json()
    assert version["model_uri"] == str(ridge_dir)
    assert (
        version["libraries"]["scikit-learn"]["recorded"]
        == version["libraries"]["scikit-learn"]["installed"]
    )
    assert ridge.get("/nope").status_code == 404
    assert ridge.get("/invocations").status_code == 405
    assert ridge.post("/ping").status_code == 405


def test_metrics_count_requests_rows_and_errors_by_kind(ridge: TestClient) -> None:
    post_json(ridge, {"inputs": [[1.0] * 6] * 7})
    post_json(ridge, {"inputs": [[1.0] * 6] * 3})
    ridge.post("/invocations", content=b"{", headers={"content-type": "application/json"})
    post_json(ridge, {"dataframe_records": [{"f0": "x"}]})
    ridge.post("/invocations", content=b"a", headers={"content-type": "text/html"})
    text = ridge.get("/metrics").text
    assert sample_value(text, "mltrail_serving_rows_scored_total") == 10
    ok = {"endpoint": "invocations", "status": "200"}
    assert sample_value(text, "mltrail_serving_requests_total", ok) == 2
    for kind in ("bad_json", "schema", "content_type"):
        assert sample_value(text, "mltrail_serving_errors_total", {"kind": kind}) == 1, kind
    assert (
        sample_value(
            text, "mltrail_serving_request_duration_seconds_count", {"endpoint": "invocations"}
        )
        == 5
    )
    assert (
        sample_value(
            text,
            "mltrail_serving_model_info",
            {"version": "", "uri": str(ridge.app.holder.current.source.uri)},
        )
        == 1
    )  # type: ignore[attr-defined]


def test_a_tensor_signature_takes_inputs_and_instances(tmp_path: Path) -> None:
    from sklearn.linear_model import LinearRegression

    import mltrail.sklearn

    x = np.arange(30, dtype=np.float64).reshape(10, 3)
    mltrail.sklearn.save_model(
        LinearRegression().fit(x, x.sum(axis=1)), tmp_path / "m", input_example=x[:2]
    )
    with TestClient(scoring_app(str(tmp_path / "m"))) as client:
        want = {"predictions": pytest.approx(x[:2].sum(axis=1).tolist())}
        assert post_json(client, {"inputs": x[:2].tolist()}).json() == want
        assert post_json(client, {"instances": x[:2].tolist()}).json() == want
        bad = post_json(client, {"inputs": [[1.0, 2.0]]})
        assert bad.status_code == 400 and "shape" in bad.json()["message"]


def test_mounted_inside_another_service(ridge_dir: Path) -> None:
    from fastapi import FastAPI

    service = FastAPI()
    service.mount("/churn", scoring_app(str(ridge_dir)))
    with TestClient(service) as client:
        assert client.get("/churn/ping").status_code == 200
        answer = client.post("/churn/invocations", json={"inputs": [[0.0] * 6]})
        assert answer.status_code == 200 and len(answer.json()["predictions"]) == 1
