"""The model registry through MlflowClient (the real mlflow client) against a real server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlflow_compat.conftest import MlflowRunner, Server, start_server


@pytest.fixture
def mlflow_server(tmp_path: Path) -> Iterator[Server]:
    """New experiments under s3://bucket (never written here), which makes s3://bucket/...
    a place model sources may point at."""
    yield from start_server(tmp_path, default_artifact_root="s3://bucket")


def test_registry_lifecycle(run_mlflow: MlflowRunner) -> None:
    r: dict[str, Any] = run_mlflow(
        """
client = MlflowClient()
exp = client.create_experiment("reg")
run = client.create_run(exp)
rm = client.create_registered_model("Churn", tags={"team": "a"}, description="first")
dup = error_of(lambda: client.create_registered_model("Churn"))
v1 = client.create_model_version("Churn", "s3://bucket/m1", run_id=run.info.run_id,
                                 tags={"t": "1"}, description="v one")
v2 = client.create_model_version("Churn", "s3://bucket/m2")
v3 = client.create_model_version("Churn", "s3://bucket/m3")
client.set_registered_model_tag("Churn", "k", "v")
client.delete_registered_model_tag("Churn", "team")
client.update_registered_model("Churn", description="second")
client.set_model_version_tag("Churn", "2", "x", "y")
client.delete_model_version_tag("Churn", "1", "t")
client.update_model_version("Churn", "1", description="updated")
client.transition_model_version_stage("Churn", "1", "Production")
moved = client.transition_model_version_stage("Churn", "2", "production", archive_existing_versions=True)
client.transition_model_version_stage("Churn", "3", "Staging")
client.set_registered_model_alias("Churn", "champion", "2")
client.set_registered_model_alias("Churn", "challenger", "3")
client.set_registered_model_alias("Churn", "challenger", "1")
by_alias = client.get_model_version_by_alias("Churn", "champion")
client.delete_registered_model_alias("Churn", "challenger")
latest_prod = client.get_latest_versions("Churn", stages=["Production"])
latest_all = client.get_latest_versions("Churn")
uri = client.get_model_version_download_uri("Churn", "1")
got = client.get_registered_model("Churn")
v1_after = client.get_model_version("Churn", "1")
client.rename_registered_model("Churn", "Churn2")
renamed = client.get_registered_model("Churn2")
v2_renamed = client.get_model_version("Churn2", "2")
old_missing = error_of(lambda: client.get_registered_model("Churn"))
client.delete_model_version("Churn2", "3")
v3_missing = error_of(lambda: client.get_model_version("Churn2", "3"))
client.create_registered_model("Other")
client.create_model_version("Other", "s3://bucket/o1", run_id=run.info.run_id)
search_all = client.search_registered_models()
search_like = client.search_registered_models(filter_string="name LIKE 'Ch%'")
search_tag = client.search_registered_models(filter_string="tags.k = 'v'")
search_desc = client.search_registered_models(order_by=["name DESC"])
page1 = client.search_registered_models(max_results=1)
page2 = client.search_registered_models(max_results=1, page_token=page1.token)
mv_by_run = client.search_model_versions(f"run_id = '{run.info.run_id}'")
mv_by_name = client.search_model_versions("name = 'Churn2'")
mv_by_number = client.search_model_versions("name = 'Churn2' AND version_number >= 2")
client.delete_registered_model("Churn2")
deleted = error_of(lambda: client.get_registered_model("Churn2"))
emit({
    "rm": [rm.name, rm.description, rm.tags], "dup": dup,
    "versions": [v1.version, v2.version, v3.version], "v1_status": v1.status,
    "moved": [moved.version, moved.current_stage],
    "stages": {v.version: v.current_stage for v in latest_all},
    "latest_prod": [v.version for v in latest_prod],
    "by_alias": by_alias.version, "uri": uri,
    "got": {"tags": got.tags, "description": got.description, "aliases": got.aliases},
    "v1_after": [v1_after.description, v1_after.tags, v1_after.current_stage, v1_after.run_id],
    "renamed": renamed.name, "v2_renamed": [v2_renamed.name, list(v2_renamed.aliases), v2_renamed.tags],
    "old_missing": old_missing, "v3_missing": v3_missing,
    "search_all": [m.name for m in search_all], "search_like": [m.name for m in search_like],
    "search_tag": [m.name for m in search_tag], "search_desc": [m.name for m in search_desc],
    "pages": [[m.name for m in page1], [m.name for m in page2], page2.token],
    "mv_by_run": sorted([m.name, m.version] for m in mv_by_run),
    "mv_by_name": [m.version for m in mv_by_name],
    "mv_by_number": [m.version for m in mv_by_number],
    "deleted": deleted,
})
"""
    )
    assert r["rm"] == ["Churn", "first", {"team": "a"}]
    assert r["dup"]["code"] == "RESOURCE_ALREADY_EXISTS"
    assert r["versions"] == ["1", "2", "3"] and r["v1_status"] == "READY"
    assert r["moved"] == ["2", "Production"]
    assert r["stages"] == {"1": "Archived", "2": "Production", "3": "Staging"}
    assert r["latest_prod"] == ["2"]
    assert r["by_alias"] == "2"
    assert r["uri"] == "s3://bucket/m1"
    assert r["got"] == {"tags": {"k": "v"}, "description": "second", "aliases": {"champion": "2"}}
    assert r["v1_after"][:3] == ["updated", {}, "Archived"] and r["v1_after"][3]
    assert r["renamed"] == "Churn2"
    assert r["v2_renamed"] == ["Churn2", ["champion"], {"x": "y"}]
    assert r["old_missing"]["code"] == "RESOURCE_DOES_NOT_EXIST"
    assert r["v3_missing"]["code"] == "RESOURCE_DOES_NOT_EXIST"
    assert r["search_all"] == ["Churn2", "Other"]
    assert r["search_like"] == ["Churn2"]
    assert r["search_tag"] == ["Churn2"]
    assert r["search_desc"] == ["Other", "Churn2"]
    # the client turns an absent next_page_token into ""
    assert r["pages"][:2] == [["Churn2"], ["Other"]] and not r["pages"][2]
    assert r["mv_by_run"] == [["Churn2", "1"], ["Other", "1"]]
    assert sorted(r["mv_by_name"]) == ["1", "2"]
    assert r["mv_by_number"] == ["2"]
    assert r["deleted"]["code"] == "RESOURCE_DOES_NOT_EXIST"


def test_registry_errors(run_mlflow: MlflowRunner) -> None:
    r: dict[str, Any] = run_mlflow(
        """
client = MlflowClient()
client.create_registered_model("M")
client.create_model_version("M", "s3://bucket/m")
checks = {
    "missing_model": lambda: client.get_registered_model("Nope"),
    "missing_version": lambda: client.get_model_version("M", "7"),
    "bad_name": lambda: client.create_registered_model("a/b"),
    "reserved_alias": lambda: client.set_registered_model_alias("M", "latest", "1"),
    "version_alias": lambda: client.set_registered_model_alias("M", "v1", "1"),
    "alias_missing_version": lambda: client.set_registered_model_alias("M", "x", "9"),
    "missing_alias": lambda: client.get_model_version_by_alias("M", "nope"),
    "bad_stage": lambda: client.transition_model_version_stage("M", "1", "Prod"),
    "bad_filter": lambda: client.search_registered_models(filter_string="name = M"),
    "bad_attr": lambda: client.search_model_versions("flavor = 'x'"),
    "traversal": lambda: client.create_model_version("M", "s3://bucket/../secret"),
    "encoded_traversal": lambda: client.create_model_version("M", "s3://b/%2E%2E/secret"),
    "missing_logged": lambda: client.create_model_version("M", "models:/m-" + "0" * 32),
    "rename_taken": lambda: (client.create_registered_model("N"), client.rename_registered_model("N", "M")),
}
emit({k: error_of(f) for k, f in checks.items()})
"""
    )
    expected = {
        "missing_model": "RESOURCE_DOES_NOT_EXIST",
        "missing_version": "RESOURCE_DOES_NOT_EXIST",
        "bad_name": "INVALID_PARAMETER_VALUE",
        "reserved_alias": "INVALID_PARAMETER_VALUE",
        "version_alias": "INVALID_PARAMETER_VALUE",
        "alias_missing_version": "RESOURCE_DOES_NOT_EXIST",
        "missing_alias": "RESOURCE_DOES_NOT_EXIST",
        "bad_stage": "INVALID_PARAMETER_VALUE",
        "bad_filter": "INVALID_PARAMETER_VALUE",
        "bad_attr": "INVALID_PARAMETER_VALUE",
        "traversal": "INVALID_PARAMETER_VALUE",
        "encoded_traversal": "INVALID_PARAMETER_VALUE",
        "missing_logged": "RESOURCE_DOES_NOT_EXIST",
        "rename_taken": "RESOURCE_ALREADY_EXISTS",
    }
    assert {k: (v or {}).get("code") for k, v in r.items()} == expected
