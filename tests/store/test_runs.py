"""Runs on every backend: creation defaults, idempotent create, update, params, tags, lifecycle."""

from __future__ import annotations

import uuid

import pytest

from mltrail.entities import Param, RunStatus, RunTag, ViewType
from mltrail.errors import (
    InvalidParameterValue,
    ParamOverwrite,
    ResourceAlreadyExists,
    ResourceDoesNotExist,
)
from mltrail.service.tracking import TrackingService

from .conftest import ARTIFACT_ROOT


def test_create_run_defaults(service: TrackingService) -> None:
    exp_id = service.create_experiment("r")
    run = service.create_run(exp_id, tags={"mlflow.user": "alice", "x": "1"})
    info = run.info
    assert len(info.run_id) == 32 and int(info.run_id, 16) >= 0
    assert info.status == "RUNNING" and info.lifecycle_stage == "active"
    assert info.user_id == "alice"
    assert info.artifact_uri == f"{ARTIFACT_ROOT}/{exp_id}/{info.run_id}/artifacts"
    assert info.run_name.count("-") == 2
    assert run.data.tags == {"mlflow.user": "alice", "x": "1", "mlflow.runName": info.run_name}
    assert service.get_run(info.run_id) == run


def test_create_run_with_name_and_user(service: TrackingService) -> None:
    run = service.create_run("0", run_name="first", user_id="bob", start_time=123)
    assert run.info.run_name == "first" and run.info.user_id == "bob"
    assert run.info.start_time == 123
    assert run.data.tags["mlflow.runName"] == "first"


def test_client_run_id_is_idempotent(service: TrackingService) -> None:
    rid = uuid.uuid4().hex
    first = service.create_run("0", run_id=rid, run_name="a")
    again = service.create_run("0", run_id=rid, run_name="a")
    assert again == first
    other = service.create_experiment("other")
    with pytest.raises(ResourceAlreadyExists):
        service.create_run(other, run_id=rid)


def test_missing_run(service: TrackingService) -> None:
    missing = uuid.uuid4().hex
    with pytest.raises(ResourceDoesNotExist, match=f"Run with id={missing} not found"):
        service.get_run(missing)
    with pytest.raises(ResourceDoesNotExist):
        service.log_batch(missing, params=[Param("a", "1")])
    with pytest.raises(ResourceDoesNotExist):
        service.create_run("12345")


def test_update_run_and_rename_sync(service: TrackingService, run_id: str) -> None:
    info = service.update_run(run_id, status=RunStatus.FINISHED, end_time=999)
    assert info.status == "FINISHED" and info.end_time == 999
    info = service.update_run(run_id, run_name="renamed")
    assert info.run_name == "renamed"
    assert service.get_run(run_id).data.tags["mlflow.runName"] == "renamed"
    service.log_batch(run_id, tags=[RunTag("mlflow.runName", "via-tag")])
    assert service.get_run(run_id).info.run_name == "via-tag"
    # Terminal status does not block logging.
    service.log_batch(run_id, params=[Param("p", "1")])


def test_params_are_write_once(service: TrackingService, run_id: str) -> None:
    service.log_batch(run_id, params=[Param("C", "1.0"), Param("empty", "")])
    service.log_batch(run_id, params=[Param("C", "1.0")])
    with pytest.raises(ParamOverwrite) as err:
        service.log_batch(run_id, params=[Param("C", "2.0")])
    assert err.value.message == (
        "Changing param values is not allowed. Param with key='C' was already logged with "
        f"value='1.0' for run ID='{run_id}'. Attempted logging new value '2.0'."
    )
    assert err.value.code == "INVALID_PARAMETER_VALUE"
    assert service.get_run(run_id).data.params == {"C": "1.0", "empty": ""}


def test_duplicate_param_in_batch(service: TrackingService, run_id: str) -> None:
    service.log_batch(run_id, params=[Param("a", "1"), Param("a", "1")])
    with pytest.raises(InvalidParameterValue, match="Duplicate parameter keys"):
        service.log_batch(run_id, params=[Param("b", "1"), Param("b", "2")])
    assert service.get_run(run_id).data.params == {"a": "1"}


def test_tags_upsert_and_delete(service: TrackingService, run_id: str) -> None:
    long_value = "v" * 8000
    service.log_batch(run_id, tags=[RunTag("t", "1"), RunTag("long", long_value)])
    service.log_batch(run_id, tags=[RunTag("t", "2")])
    tags = service.get_run(run_id).data.tags
    assert tags["t"] == "2" and tags["long"] == long_value
    service.delete_tag(run_id, key="t")
    assert "t" not in service.get_run(run_id).data.tags
    with pytest.raises(ResourceDoesNotExist, match="No tag with name: t"):
        service.delete_tag(run_id, key="t")


def test_soft_delete_and_restore_run(service: TrackingService, run_id: str) -> None:
    service.delete_run(run_id)
    assert service.get_run(run_id).info.lifecycle_stage == "deleted"
    with pytest.raises(InvalidParameterValue) as err:
        service.log_batch(run_id, params=[Param("a", "1")])
    assert err.value.message == (
        f"The run {run_id} must be in the 'active' state. Current state is deleted."
    )
    exp_id = service.get_run(run_id).info.experiment_id
    assert service.search_runs([exp_id]) == []
    assert [r.info.run_id for r in service.search_runs([exp_id], view_type=ViewType.ALL)] == [
        run_id
    ]
    service.restore_run(run_id)
    assert service.get_run(run_id).info.lifecycle_stage == "active"


def test_search_runs_order_and_paging(service: TrackingService) -> None:
    exp_id = service.create_experiment("s")
    ids = [service.create_run(exp_id, start_time=1000 + i).info.run_id for i in range(5)]
    service.log_batch(ids[2], params=[Param("p", "x")])
    page1 = service.search_runs([exp_id], max_results=3)
    assert [r.info.run_id for r in page1] == ids[::-1][:3]
    assert page1.token is not None
    page2 = service.search_runs([exp_id], max_results=3, page_token=page1.token)
    assert [r.info.run_id for r in page2] == ids[::-1][3:]
    assert page2.token is None
    found = service.search_runs([exp_id], filter_string="params.p = 'x'")
    assert [r.info.run_id for r in found] == [ids[2]]
    assert found[0].data.params == {"p": "x"}
    with pytest.raises(InvalidParameterValue):
        service.search_runs([exp_id], page_token="not a token")
