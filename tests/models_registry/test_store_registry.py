"""SqlRegistryStore on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from mltrail.errors import MalformedFilter, ResourceAlreadyExists, ResourceDoesNotExist
from mltrail.model_entities import ModelVersionStage
from mltrail.store.sql.registry import SqlRegistryStore

PROMPT_CLAUSE = "tag.`mlflow.prompt.is_prompt` != 'true'"


def _version(store: SqlRegistryStore, name: str, now: int = 1, **kw: object) -> int:
    return store.create_model_version(
        name,
        source="models:/m-1",
        storage_location="mlflow-artifacts:/1/x",
        now=now,
        **kw,  # type: ignore[arg-type]
    ).version


def test_registered_model_lifecycle(engine: Engine) -> None:
    store = SqlRegistryStore(engine)
    created = store.create_registered_model("Churn", now=1, tags={"t": "1"}, description="d")
    assert created.name == "Churn" and created.tags == {"t": "1"} and created.description == "d"
    with pytest.raises(ResourceAlreadyExists):
        store.create_registered_model("Churn", now=2)

    assert [_version(store, "Churn", now=n) for n in (2, 3, 4)] == [1, 2, 3]
    store.delete_model_version("Churn", version=3, now=5)
    # numbers are never reused
    assert _version(store, "Churn", now=6) == 4

    store.update_registered_model("Churn", description="new", now=7)
    renamed = store.rename_registered_model("Churn", new_name="Churn2", now=8)
    assert renamed.description == "new" and renamed.last_updated_timestamp == 8
    assert store.get_model_version("Churn2", version=1).name == "Churn2"
    with pytest.raises(ResourceDoesNotExist):
        store.get_registered_model("Churn")
    store.create_registered_model("Other", now=9)
    with pytest.raises(ResourceAlreadyExists):
        store.rename_registered_model("Other", new_name="Churn2", now=10)

    store.set_registered_model_tag("Churn2", key="k", value="v", now=11)
    store.delete_registered_model_tag("Churn2", key="t")
    assert store.get_registered_model("Churn2").tags == {"k": "v"}

    store.delete_registered_model("Churn2")
    with pytest.raises(ResourceDoesNotExist):
        store.get_model_version("Churn2", version=1)
    # the name is free again and numbering restarts
    store.create_registered_model("Churn2", now=12)
    assert _version(store, "Churn2") == 1


def test_versions_stages_aliases_tags(engine: Engine) -> None:
    store = SqlRegistryStore(engine)
    store.create_registered_model("M", now=1)
    for n in range(3):
        _version(store, "M", now=n + 2, run_id=f"{n:032x}", model_id=f"m-{n}", tags={"n": str(n)})
    v1 = store.get_model_version("M", version=1)
    assert v1.tags == {"n": "0"} and v1.model_id == "m-0" and v1.current_stage == "None"
    assert v1.status == "READY"

    store.transition_stage(
        "M", version=1, stage=ModelVersionStage.PRODUCTION, archive_existing=False, now=10
    )
    store.transition_stage(
        "M", version=2, stage=ModelVersionStage.PRODUCTION, archive_existing=True, now=11
    )
    assert store.get_model_version("M", version=1).current_stage == "Archived"
    latest = {v.current_stage: v.version for v in store.get_registered_model("M").latest_versions}
    assert latest == {"Archived": 1, "Production": 2, "None": 3}
    assert [
        v.version for v in store.get_latest_versions("M", stages=[ModelVersionStage.PRODUCTION])
    ] == [2]

    store.set_alias("M", alias="champion", version=1, now=12)
    store.set_alias("M", alias="champion", version=2, now=13)  # moves
    store.set_alias("M", alias="backup", version=2, now=14)
    assert store.get_version_by_alias("M", alias="champion").version == 2
    assert store.get_model_version("M", version=2).aliases == ("backup", "champion")
    assert dict(store.get_registered_model("M").aliases) == {"backup": 2, "champion": 2}
    store.delete_alias("M", alias="backup")
    with pytest.raises(ResourceDoesNotExist):
        store.get_version_by_alias("M", alias="backup")
    with pytest.raises(ResourceDoesNotExist):
        store.set_alias("M", alias="x", version=99, now=15)
    store.delete_model_version("M", version=2, now=16)
    with pytest.raises(ResourceDoesNotExist):
        store.get_version_by_alias("M", alias="champion")

    store.set_model_version_tag("M", version=1, key="a", value="b", now=17)
    store.delete_model_version_tag("M", version=1, key="n")
    assert store.get_model_version("M", version=1).tags == {"a": "b"}
    updated = store.update_model_version("M", version=1, description="first", now=18)
    assert updated.description == "first" and updated.last_updated_timestamp == 18
    with pytest.raises(ResourceDoesNotExist):
        store.get_model_version("M", version=2)
    with pytest.raises(ResourceDoesNotExist):
        store.get_model_version("Nope", version=1)


def test_search_registered_models(engine: Engine) -> None:
    store = SqlRegistryStore(engine)
    for name in ("beta", "Alpha", "alpha2", "gamma"):
        store.create_registered_model(name, now=len(name))
    store.set_registered_model_tag("gamma", key="mlflow.prompt.is_prompt", value="true", now=20)
    store.set_registered_model_tag("beta", key="team", value="x", now=21)

    def names(text: str, **kw: object) -> list[str]:
        models, _ = store.search_registered_models(filter_string=text, **kw)  # type: ignore[arg-type]
        return [m.name for m in models]

    # code-point order: upper case first
    assert names("") == ["Alpha", "alpha2", "beta", "gamma"]
    assert names(PROMPT_CLAUSE) == ["Alpha", "alpha2", "beta"]
    assert names(f"name LIKE 'alpha%' AND {PROMPT_CLAUSE}") == ["alpha2"]
    assert names("name ILIKE 'alpha%'") == ["Alpha", "alpha2"]
    assert names("tags.team = 'x'") == ["beta"]
    assert names("tags.team != 'y'") == ["beta"]  # absent tag does not match a normal !=
    assert names("name IN ('beta', 'gamma')") == ["beta", "gamma"]
    assert names("name != 'beta'") == ["Alpha", "alpha2", "gamma"]
    desc = ["name DESC"]
    assert names("", order_by=desc) == ["gamma", "beta", "alpha2", "Alpha"]
    page, more = store.search_registered_models(max_results=3)
    assert more and len(page) == 3
    page, more = store.search_registered_models(max_results=3, offset=3)
    assert not more and [m.name for m in page] == ["gamma"]


def test_search_model_versions(engine: Engine) -> None:
    store = SqlRegistryStore(engine)
    store.create_registered_model("A", now=1)
    store.create_registered_model("B", now=1)
    _version(store, "A", now=2, run_id="r1")
    _version(store, "A", now=3, run_id="r2")
    _version(store, "B", now=4, run_id="r1", tags={"k": "v"})

    def found(text: str) -> list[tuple[str, int]]:
        versions, _ = store.search_model_versions(filter_string=text)
        return [(v.name, v.version) for v in versions]

    assert found("") == [("B", 1), ("A", 2), ("A", 1)]
    assert found("name = 'A'") == [("A", 2), ("A", 1)]
    assert found("run_id = 'r1'") == [("B", 1), ("A", 1)]
    assert found("name = 'A' AND version_number > 1") == [("A", 2)]
    assert found("tags.k = 'v'") == [("B", 1)]
    assert found("source_path = 'models:/m-1' AND name = 'B'") == [("B", 1)]


def test_search_validation(engine: Engine) -> None:
    store = SqlRegistryStore(engine)
    with pytest.raises(MalformedFilter):
        store.search_registered_models(filter_string="run_id = 'x'")
    with pytest.raises(MalformedFilter):
        store.search_registered_models(order_by=["bogus"])
    with pytest.raises(MalformedFilter):
        store.search_model_versions(filter_string="version_number = 'one'")
    with pytest.raises(MalformedFilter):
        store.search_model_versions(order_by=["name", "name DESC"])
