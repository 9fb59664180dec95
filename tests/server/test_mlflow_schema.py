"""MLflow's per-route field checks (mltrail.server.api.mlflow.schema), without a server."""

from __future__ import annotations

from typing import Any

import pytest

from mltrail.errors import InvalidParameterValue
from mltrail.server.api.mlflow.schema import (
    ARRAY,
    ENUM,
    FLOAT,
    INT,
    REQUIRED,
    STRING,
    at_most,
    validate,
)

from .conftest import AppServer

HINT = "See the API docs for more information about request parameters."
SCHEMA = (
    ("run_id", REQUIRED, STRING),
    ("key", REQUIRED, STRING),
    ("value", REQUIRED, FLOAT),
    ("step", INT),
    ("status", ENUM),
    ("max_results", INT, at_most(10)),
    ("ids", ARRAY),
)


def _message(data: dict[str, Any], **kw: Any) -> str:
    with pytest.raises(InvalidParameterValue) as caught:
        validate(data, SCHEMA, **kw)
    return caught.value.message


def test_first_failing_field_in_schema_order_with_mlflow_words() -> None:
    assert _message({"value": "x", "key": 3, "run_id": 31}) == (
        f"Invalid value 31 for parameter 'run_id' supplied:  Hint: Value was of type 'int'. {HINT}"
    )
    assert _message({"run_uuid": "r", "key": ""}) == (
        f"Missing value for required parameter 'key'. {HINT}"
    )
    assert _message({"run_id": "r", "key": "k", "value": [1, {"b": 1, "a": 2}]}).startswith(
        'Invalid value [1,{"a":2,"b":1}] for parameter \'value\' supplied:'
    )
    assert _message({"run_id": "r", "key": "k", "value": 1, "max_results": 11}).startswith(
        "Invalid value 11 for parameter 'max_results' supplied:"
    )


def test_accepted_shapes() -> None:
    good = {"run_id": "r", "key": "k", "value": "NaN", "step": "5", "status": 3, "ids": []}
    validate(good, SCHEMA)
    validate({**good, "value": 2, "status": "FINISHED", "max_results": None, "step": None}, SCHEMA)
    # Query strings: repeated fields stay lists, others take the first value.
    validate(
        {"run_id": ["r", 5], "key": ["k"], "value": ["1.5"], "ids": ["a", "b"]},
        SCHEMA,
        from_query=True,
    )


def test_bad_values_are_shown_bounded() -> None:
    deep: Any = "x"
    for _ in range(5000):
        deep = [deep]
    assert "for parameter 'run_id' supplied" in _message({"run_id": deep})
    long = _message({"run_id": ["y" * 100_000]})
    assert len(long) < 400


def test_a_huge_number_is_not_repeated_whole_in_the_answer(app_live_server: AppServer) -> None:
    with app_live_server.server.client() as http:
        run = http.post("/api/2.0/mlflow/runs/create", json={"experiment_id": "0"})
        run_id = run.json()["run"]["info"]["run_id"]
        huge = "1" + "0" * 400
        for value, step in ((huge, "1"), ("1", huge)):
            body = (
                f'{{"run_id": "{run_id}", "key": "m", "value": {value}, '
                f'"timestamp": 1, "step": {step}}}'
            )
            answer = http.post(
                "/api/2.0/mlflow/runs/log-metric",
                content=body,
                headers={"Content-Type": "application/json"},
            )
            assert answer.status_code == 400
            message = answer.json()["message"]
            assert "(401 characters)" in message and huge not in message
