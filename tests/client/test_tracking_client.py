"""TrackingClient: MlflowClient's methods against a local folder store."""

from __future__ import annotations

from pathlib import Path

import pytest

import mltrail
from mltrail.entities import Metric, Param, RunStatus, RunTag, ViewType
from mltrail.errors import (
    InvalidParameterValue,
    ParamOverwrite,
    ResourceAlreadyExists,
    ResourceDoesNotExist,
)


def test_experiment_lifecycle(client: mltrail.TrackingClient) -> None:
    exp_id = client.create_experiment("exp", tags={"team": "a"})
    assert client.get_experiment(exp_id).tags == {"team": "a"}
    with pytest.raises(ResourceAlreadyExists):
        client.create_experiment("exp")
    client.rename_experiment(exp_id, "exp2")
    assert client.get_experiment_by_name("exp") is None
    renamed = client.get_experiment_by_name("exp2")
    assert renamed is not None and renamed.experiment_id == exp_id
    client.set_experiment_tag(exp_id, "n", 3)
    client.delete_experiment_tag(exp_id, "team")
    assert client.get_experiment(exp_id).tags == {"n": "3"}
    client.delete_experiment(exp_id)
    assert client.get_experiment(exp_id).lifecycle_stage == "deleted"
    deleted = client.search_experiments(view_type=ViewType.DELETED_ONLY)
    assert [e.experiment_id for e in deleted] == [exp_id]
    client.restore_experiment(exp_id)
    assert client.get_experiment(exp_id).lifecycle_stage == "active"


def test_artifact_location_default_and_explicit(
    client: mltrail.TrackingClient, store_dir: Path, tmp_path: Path
) -> None:
    default = client.get_experiment(client.create_experiment("d"))
    assert default.artifact_location.startswith((store_dir / "artifacts").resolve().as_uri())
    custom = (tmp_path / "elsewhere").as_uri()
    explicit = client.get_experiment(client.create_experiment("e", artifact_location=custom))
    assert explicit.artifact_location == custom
    run = client.create_run(explicit.experiment_id)
    client.log_text(run.info.run_id, "x", "f.txt")
    assert list((tmp_path / "elsewhere").rglob("f.txt"))


def test_run_lifecycle(client: mltrail.TrackingClient) -> None:
    run = client.create_run("0", tags={"k": "v"}, run_name="manual")
    rid = run.info.run_id
    assert run.info.status == "RUNNING"
    assert run.info.run_name == "manual"
    assert run.data.tags["k"] == "v"
    client.update_run(rid, name="renamed")
    assert client.get_run(rid).info.run_name == "renamed"
    client.set_terminated(rid, "FAILED", end_time=1234)
    info = client.get_run(rid).info
    assert (info.status, info.end_time) == ("FAILED", 1234)
    client.update_run(rid, status=RunStatus.FINISHED)
    assert client.get_run(rid).info.status == "FINISHED"
    client.delete_run(rid)
    assert client.get_run(rid).info.lifecycle_stage == "deleted"
    client.restore_run(rid)
    assert client.get_run(rid).info.lifecycle_stage == "active"


def test_logging_is_synchronous(client: mltrail.TrackingClient) -> None:
    rid = client.create_run("0").info.run_id
    assert client.log_param(rid, "lr", 0.1) == 0.1
    with pytest.raises(ParamOverwrite):
        client.log_param(rid, "lr", 0.2)
    client.log_param(rid, "lr", "0.1")  # same value again is fine
    client.log_metric(rid, "m", 1.0)
    client.log_metric(rid, "m", 2.0, timestamp=5, step=3)
    client.set_tag(rid, "t", 1)
    client.delete_tag(rid, "t")
    client.log_batch(
        rid,
        metrics=[Metric("b", 1.0, 10, 0)],
        params=[Param("p", "x")],
        tags=[RunTag("u", "y")],
    )
    run = client.get_run(rid)
    assert run.data.params == {"lr": "0.1", "p": "x"}
    assert run.data.metrics == {"m": 2.0, "b": 1.0}
    assert "t" not in run.data.tags and run.data.tags["u"] == "y"
    history = client.get_metric_history(rid, "m")
    assert [(m.step, m.value) for m in history] == [(0, 1.0), (3, 2.0)]
    assert history[1].timestamp == 5


def test_bad_input_raises_typed_errors(client: mltrail.TrackingClient) -> None:
    rid = client.create_run("0").info.run_id
    with pytest.raises(InvalidParameterValue):
        client.log_metric(rid, "m", "not a number")  # type: ignore[arg-type]
    with pytest.raises(ResourceDoesNotExist):
        client.get_run("f" * 32)
    with pytest.raises(ResourceDoesNotExist):
        client.log_metric("f" * 32, "m", 1.0)
    with pytest.raises(InvalidParameterValue):
        client.search_runs(["0"], filter_string="metrics.m >>> 1")


def test_search_runs_positional_like_mlflow(client: mltrail.TrackingClient) -> None:
    rids = [client.create_run("0").info.run_id for _ in range(3)]
    for i, rid in enumerate(rids):
        client.log_metric(rid, "m", float(i))
    page = client.search_runs(["0"], "metrics.m >= 1", ViewType.ACTIVE_ONLY, 1, ["metrics.m DESC"])
    assert [r.info.run_id for r in page] == [rids[2]]
    assert page.token
    rest = client.search_runs(
        ["0"], "metrics.m >= 1", ViewType.ACTIVE_ONLY, 10, ["metrics.m DESC"], page.token
    )
    assert [r.info.run_id for r in rest] == [rids[1]]
    assert rest.token is None


def test_default_client_follows_fluent_uri(store_dir: Path) -> None:
    assert mltrail.TrackingClient().tracking_uri == str(store_dir)
