"""``mltrail runs`` on runs logged with the real client into a fresh folder store."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from mltrail.client.tracking_client import TrackingClient
from mltrail.entities import Metric, Param, RunTag

from .conftest import Invoke, parse_json


@dataclass
class Logged:
    experiment_id: str
    run_ids: dict[str, str]  # run name -> id


@pytest.fixture
def logged(store: str) -> Logged:
    """Three finished runs with params, a 3-step loss curve each, and tags."""
    client = TrackingClient(tracking_uri=store)
    experiment_id = client.create_experiment("sweep")
    run_ids = {}
    for i, alpha in enumerate(("0.1", "1.0", "10.0")):
        run = client.create_run(experiment_id, run_name=f"alpha-{alpha}")
        run_id = run.info.run_id
        losses = [1.0 + i, 0.5 + i, 0.75 + i]  # latest is not the minimum
        client.log_batch(
            run_id,
            metrics=[Metric("loss", v, 1_700_000_000_000 + s, s) for s, v in enumerate(losses)]
            + [Metric("accuracy", 0.9 - i / 10, 1_700_000_000_000, 0)],
            params=[Param("alpha", alpha)],
            tags=[RunTag("team", "ml")],
        )
        client.set_terminated(run_id)
        run_ids[f"alpha-{alpha}"] = run_id
    return Logged(experiment_id, run_ids)


def test_list_json_has_every_run_with_latest_metrics(invoke: Invoke, logged: Logged) -> None:
    runs = parse_json(invoke("runs", "list", "--experiment", "sweep", "--output", "json"))
    by_name = {r["info"]["run_name"]: r for r in runs}
    assert set(by_name) == set(logged.run_ids)
    first = by_name["alpha-0.1"]
    assert first["info"]["run_id"] == logged.run_ids["alpha-0.1"]
    assert first["info"]["status"] == "FINISHED"
    assert first["data"]["metrics"] == {"loss": 0.75, "accuracy": 0.9}
    assert first["data"]["params"] == {"alpha": "0.1"}


def test_list_by_experiment_id_and_table(invoke: Invoke, logged: Logged) -> None:
    table = invoke("runs", "list", "-e", logged.experiment_id).stdout
    header, _rule, *rows = table.splitlines()
    assert header.split() == [
        "run", "id", "name", "status", "start", "time", "duration", "accuracy", "loss"
    ]  # fmt: skip
    assert len(rows) == 3
    for run_id in logged.run_ids.values():
        # Full 32-hex ids: people copy them into `runs show`.
        assert re.fullmatch(r"[0-9a-f]{32}", run_id)
        assert any(row.startswith(run_id + " ") for row in rows)
    row = next(r for r in rows if r.startswith(logged.run_ids["alpha-10.0"]))
    assert row.split()[-2:] == ["0.7", "2.75"]


def test_filter_order_and_max_results(invoke: Invoke, logged: Logged) -> None:
    def names(*args: str) -> list[str]:
        runs = parse_json(invoke("runs", "list", "-e", "sweep", "-o", "json", *args))
        return [r["info"]["run_name"] for r in runs]

    assert set(names("--filter", "metrics.loss > 1")) == {"alpha-10.0", "alpha-1.0"}
    assert names("--filter", "params.alpha = '1.0'") == ["alpha-1.0"]
    assert names("--order-by", "metrics.loss DESC") == ["alpha-10.0", "alpha-1.0", "alpha-0.1"]
    assert names("--order-by", "metrics.loss ASC", "--max-results", "2") == [
        "alpha-0.1",
        "alpha-1.0",
    ]


def test_bad_filter_is_a_clear_message(invoke: Invoke, logged: Logged) -> None:
    result = invoke("runs", "list", "-e", "sweep", "--filter", "metrics.loss >>> 1", expect=2)
    assert result.stderr.startswith("Error: ")
    assert "Traceback" not in result.stderr
    assert "unexpected" not in result.stderr
    assert result.stdout == ""


def test_missing_experiment(invoke: Invoke, logged: Logged) -> None:
    result = invoke("runs", "list", "-e", "nope", expect=1)
    assert result.stderr == "Error: No experiment with name or id 'nope'\n"


def test_show_json_has_params_metrics_with_min_max_and_tags(invoke: Invoke, logged: Logged) -> None:
    run_id = logged.run_ids["alpha-1.0"]
    shown = parse_json(invoke("runs", "show", run_id, "--output", "json"))
    assert shown["info"]["run_id"] == run_id
    assert shown["info"]["experiment_id"] == logged.experiment_id
    assert shown["params"] == {"alpha": "1.0"}
    assert shown["tags"]["team"] == "ml"
    loss = next(m for m in shown["metrics"] if m["key"] == "loss")
    assert loss == {
        "key": "loss",
        "value": 1.75,
        "step": 2,
        "timestamp": 1_700_000_000_002,
        "min": 1.5,
        "max": 2.0,
        "count": 3,
    }


def test_show_table(invoke: Invoke, logged: Logged) -> None:
    run_id = logged.run_ids["alpha-0.1"]
    text = invoke("runs", "show", run_id).stdout
    assert f"run id:          {run_id}" in text
    assert "status:          FINISHED" in text
    metrics = text.split("Metrics\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert metrics[0].split() == ["key", "latest", "step", "min", "max", "count"]
    assert metrics[2].split() == ["accuracy", "0.9", "0", "0.9", "0.9", "1"]
    assert metrics[3].split() == ["loss", "0.75", "2", "0.5", "1", "3"]
    assert "alpha  0.1" in text.split("Params\n", 1)[1]


def test_show_missing_run(invoke: Invoke, logged: Logged) -> None:
    result = invoke("runs", "show", "0" * 32, expect=1)
    assert result.stderr.startswith("Error: ")
    assert "Traceback" not in result.stderr


def test_delete_and_restore(invoke: Invoke, logged: Logged) -> None:
    run_id = logged.run_ids["alpha-1.0"]
    assert invoke("runs", "delete", run_id).stdout == f"Deleted run {run_id}\n"

    def ids(*args: str) -> set[str]:
        runs = parse_json(invoke("runs", "list", "-e", "sweep", "-o", "json", *args))
        return {r["info"]["run_id"] for r in runs}

    assert run_id not in ids()
    assert ids("--view", "deleted") == {run_id}
    assert len(ids("--view", "all")) == 3
    shown = parse_json(invoke("runs", "show", run_id, "-o", "json"))
    assert shown["info"]["lifecycle_stage"] == "deleted"

    assert invoke("runs", "restore", run_id).stdout == f"Restored run {run_id}\n"
    assert run_id in ids()
    assert ids("--view", "deleted") == set()
