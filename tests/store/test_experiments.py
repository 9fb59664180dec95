"""Experiments on every backend: create, read, rename, tags, soft delete and restore."""

from __future__ import annotations

import pytest

from mltrail.entities import LifecycleStage, RunTag, ViewType
from mltrail.errors import InvalidParameterValue, ResourceAlreadyExists, ResourceDoesNotExist
from mltrail.service.tracking import TrackingService

from .conftest import ARTIFACT_ROOT


def test_default_experiment_exists(service: TrackingService) -> None:
    default = service.get_experiment("0")
    assert default.name == "Default"
    assert default.artifact_location == f"{ARTIFACT_ROOT}/0"
    assert service.get_experiment_by_name("Default") == default


def test_create_and_get(service: TrackingService) -> None:
    exp_id = service.create_experiment("churn", tags={"team": "ds", "empty": ""})
    assert exp_id != "0"
    exp = service.get_experiment(exp_id)
    assert exp.name == "churn"
    assert exp.artifact_location == f"{ARTIFACT_ROOT}/{exp_id}"
    assert exp.tags == {"team": "ds", "empty": ""}
    assert exp.lifecycle_stage == "active"
    assert exp.creation_time is not None and exp.creation_time == exp.last_update_time
    explicit = service.create_experiment("other", artifact_location="s3://b/x")
    assert service.get_experiment(explicit).artifact_location == "s3://b/x"


def test_unicode_name_round_trips(service: TrackingService) -> None:
    exp_id = service.create_experiment("expérience 🚀")
    assert service.get_experiment(exp_id).name == "expérience 🚀"


def test_missing_experiment(service: TrackingService) -> None:
    with pytest.raises(ResourceDoesNotExist, match="No Experiment with id=999 exists"):
        service.get_experiment("999")
    with pytest.raises(ResourceDoesNotExist):
        service.get_experiment("not-a-number")
    assert service.get_experiment_by_name("nope") is None


def test_duplicate_name_even_when_deleted(service: TrackingService) -> None:
    exp_id = service.create_experiment("dup")
    with pytest.raises(ResourceAlreadyExists):
        service.create_experiment("dup")
    service.delete_experiment(exp_id)
    with pytest.raises(ResourceAlreadyExists):
        service.create_experiment("dup")
    assert service.get_experiment_by_name("dup") is not None


def test_rename(service: TrackingService) -> None:
    a = service.create_experiment("a")
    service.create_experiment("b")
    service.rename_experiment(a, new_name="c")
    assert service.get_experiment(a).name == "c"
    with pytest.raises(ResourceAlreadyExists):
        service.rename_experiment(a, new_name="b")


def test_tags_upsert_and_delete(service: TrackingService) -> None:
    exp_id = service.create_experiment("t")
    service.set_experiment_tag(exp_id, key="k", value="1")
    service.set_experiment_tag(exp_id, key="k", value="2")
    service.set_experiment_tag(exp_id, key="k", value="2")
    assert service.get_experiment(exp_id).tags == {"k": "2"}
    service.delete_experiment_tag(exp_id, key="k")
    assert service.get_experiment(exp_id).tags == {}
    with pytest.raises(ResourceDoesNotExist):
        service.delete_experiment_tag(exp_id, key="k")


def test_delete_and_restore_cascades_to_runs(service: TrackingService) -> None:
    exp_id = service.create_experiment("life")
    run = service.create_run(exp_id)
    service.delete_experiment(exp_id)
    assert service.get_experiment(exp_id).lifecycle_stage == LifecycleStage.DELETED.value
    assert service.get_run(run.info.run_id).info.lifecycle_stage == "deleted"
    with pytest.raises(InvalidParameterValue, match="must be in the 'active' state"):
        service.create_run(exp_id)
    with pytest.raises(InvalidParameterValue, match="must be in the 'active' state"):
        service.log_batch(run.info.run_id, tags=[RunTag("k", "v")])
    with pytest.raises(InvalidParameterValue, match="must be in the 'active' state"):
        service.set_experiment_tag(exp_id, key="k", value="v")
    service.restore_experiment(exp_id)
    assert service.get_experiment(exp_id).lifecycle_stage == "active"
    assert service.get_run(run.info.run_id).info.lifecycle_stage == "active"


def test_search_experiments_view_types_and_paging(service: TrackingService) -> None:
    ids = [service.create_experiment(f"e{i}") for i in range(5)]
    service.delete_experiment(ids[0])
    active = service.search_experiments(max_results=100)
    assert {e.experiment_id for e in active} == {"0", *ids[1:]}
    deleted = service.search_experiments(view_type=ViewType.DELETED_ONLY)
    assert [e.experiment_id for e in deleted] == [ids[0]]
    assert len(service.search_experiments(view_type=ViewType.ALL)) == 6
    seen: list[str] = []
    token = None
    while True:
        page = service.search_experiments(max_results=2, page_token=token)
        assert len(page) <= 2
        seen += [e.experiment_id for e in page]
        token = page.token
        if token is None:
            break
    assert sorted(seen) == sorted(e.experiment_id for e in active)
    assert len(seen) == len(set(seen))
    named = service.search_experiments(filter_string="name = 'e3'")
    assert [e.name for e in named] == ["e3"]
