"""Experiments through the real mlflow client."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.mlflow


def test_create_get_rename_tags(run_mlflow):
    result = run_mlflow(
        """
        client = MlflowClient()
        eid = client.create_experiment("alpha", tags={"owner": "ana", "blank": ""})
        exp = client.get_experiment(eid)
        by_name = client.get_experiment_by_name("alpha")
        missing = client.get_experiment_by_name("does-not-exist")
        dup = error_of(lambda: client.create_experiment("alpha"))
        client.rename_experiment(eid, "beta")
        renamed = client.get_experiment(eid)
        client.set_experiment_tag(eid, "owner", "bo")
        client.set_experiment_tag(eid, "multi", "line1\\nline2")
        client.delete_experiment_tag(eid, "blank")
        tagged = client.get_experiment(eid)
        missing_get = error_of(lambda: client.get_experiment("987654"))
        default = client.get_experiment("0")
        emit({
            "eid": eid, "name": exp.name, "stage": exp.lifecycle_stage,
            "location": exp.artifact_location, "tags": exp.tags,
            "creation_time": exp.creation_time, "by_name": by_name.experiment_id,
            "missing": missing, "dup": dup, "renamed": renamed.name,
            "tags_after": tagged.tags, "missing_get": missing_get, "default": default.name,
        })
        """
    )
    assert result["name"] == "alpha"
    assert result["stage"] == "active"
    assert result["location"] == f"mlflow-artifacts:/{result['eid']}"
    assert result["tags"] == {"owner": "ana", "blank": ""}
    assert result["creation_time"] > 0
    assert result["by_name"] == result["eid"]
    assert result["missing"] is None
    assert result["dup"]["code"] == "RESOURCE_ALREADY_EXISTS"
    assert result["renamed"] == "beta"
    assert result["tags_after"] == {"owner": "bo", "multi": "line1\nline2"}
    assert result["missing_get"]["code"] == "RESOURCE_DOES_NOT_EXIST"
    assert result["default"] == "Default"


def test_delete_restore_and_view_types(run_mlflow):
    result = run_mlflow(
        """
        from mlflow.entities import ViewType
        client = MlflowClient()
        eid = client.create_experiment("doomed")
        rid = client.create_run(eid).info.run_id
        client.delete_experiment(eid)
        deleted = client.get_experiment(eid)
        deleted_by_name = client.get_experiment_by_name("doomed")
        run_stage = client.get_run(rid).info.lifecycle_stage
        create_in_deleted = error_of(lambda: client.create_run(eid))
        active = [e.name for e in client.search_experiments()]
        only_deleted = [e.name for e in client.search_experiments(view_type=ViewType.DELETED_ONLY)]
        everything = [e.name for e in client.search_experiments(view_type=ViewType.ALL)]
        reuse = error_of(lambda: client.create_experiment("doomed"))
        client.restore_experiment(eid)
        emit({
            "deleted_stage": deleted.lifecycle_stage,
            "deleted_by_name": deleted_by_name.lifecycle_stage,
            "run_stage": run_stage, "create_in_deleted": create_in_deleted,
            "active": active, "only_deleted": only_deleted, "all": sorted(everything),
            "reuse": reuse, "restored": client.get_experiment(eid).lifecycle_stage,
            "run_restored": client.get_run(rid).info.lifecycle_stage,
        })
        """
    )
    assert result["deleted_stage"] == "deleted"
    assert result["deleted_by_name"] == "deleted"
    assert result["run_stage"] == "deleted"
    assert result["create_in_deleted"]["code"] == "INVALID_PARAMETER_VALUE"
    assert result["active"] == ["Default"]
    assert result["only_deleted"] == ["doomed"]
    assert result["all"] == ["Default", "doomed"]
    assert result["reuse"]["code"] == "RESOURCE_ALREADY_EXISTS"
    assert result["restored"] == "active"
    assert result["run_restored"] == "active"


def test_search_experiments_filters_order_and_paging(run_mlflow):
    result = run_mlflow(
        """
        client = MlflowClient()
        for name, team in [("exp-a", "x"), ("exp-b", "y"), ("Exp-C", "x"), ("other", "z")]:
            client.create_experiment(name, tags={"team": team})
        like = client.search_experiments(filter_string="name LIKE 'exp-%'", order_by=["name ASC"])
        ilike = client.search_experiments(filter_string="name ILIKE 'exp-%'", order_by=["name"])
        tagged = client.search_experiments(filter_string="tags.team = 'x'", order_by=["name DESC"])
        not_a = client.search_experiments(
            filter_string="name != 'exp-a' and tags.team != 'z'", order_by=["name DESC"]
        )
        pages, token = [], None
        while True:
            page = client.search_experiments(
                max_results=1, page_token=token, order_by=["name ASC"]
            )
            pages.append([e.name for e in page])
            token = page.token
            if not token:
                break
        bad = error_of(lambda: client.search_experiments(filter_string="name = "))
        emit({
            "like": [e.name for e in like], "ilike": [e.name for e in ilike],
            "tagged": [e.name for e in tagged], "not_a": [e.name for e in not_a],
            "pages": pages, "bad": bad,
        })
        """
    )
    assert result["like"] == ["exp-a", "exp-b"]
    assert result["ilike"] == ["Exp-C", "exp-a", "exp-b"]
    assert result["tagged"] == ["exp-a", "Exp-C"]
    # SQL string comparison: upper case sorts before lower case.
    assert result["not_a"] == ["exp-b", "Exp-C"]
    assert result["pages"] == [["Default"], ["Exp-C"], ["exp-a"], ["exp-b"], ["other"]]
    assert result["bad"]["code"] == "INVALID_PARAMETER_VALUE"
