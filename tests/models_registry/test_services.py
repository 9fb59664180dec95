"""LoggedModelService and RegistryService over the real tracking service and SQL stores."""

from __future__ import annotations

import json

import pytest

from mltrail.errors import InvalidParameterValue, ResourceAlreadyExists, ResourceDoesNotExist
from mltrail.model_entities import LoggedModelStatus
from mltrail.service.logged_models import LoggedModelService
from mltrail.service.registry import RegistryService
from mltrail.service.tracking import TrackingService

Services = tuple[LoggedModelService, RegistryService, TrackingService]


def test_logged_model_create_and_finalize(services: Services) -> None:
    logged, _, tracking = services
    exp = tracking.create_experiment("churn")
    run = tracking.create_run(exp, run_name="r1")
    model = logged.create_logged_model(
        exp, name="model", source_run_id=run.info.run_id, params={"C": "1.0"}, tags={"t": "v"}
    )
    assert model.model_id.startswith("m-") and len(model.model_id) == 34
    experiment = tracking.get_experiment(exp)
    assert model.artifact_location == (
        f"{experiment.artifact_location.rstrip('/')}/models/{model.model_id}/artifacts"
    )
    assert model.status is LoggedModelStatus.PENDING
    ready = logged.finalize_logged_model(model.model_id, status="LOGGED_MODEL_READY")
    assert ready.status is LoggedModelStatus.READY
    unnamed = logged.create_logged_model(exp)
    assert unnamed.name  # invented

    found = logged.search_logged_models([exp], filter_string="name = 'model'")
    assert [m.model_id for m in found] == [model.model_id] and found.token is None


def test_logged_model_errors(services: Services) -> None:
    logged, _, tracking = services
    exp = tracking.create_experiment("e")
    other = tracking.create_experiment("other")
    run = tracking.create_run(other)
    with pytest.raises(ResourceDoesNotExist):
        logged.create_logged_model("12345")
    # As MLflow: the source run is recorded as given, known or not, in any experiment.
    assert logged.create_logged_model(exp, source_run_id="f" * 32).source_run_id == "f" * 32
    assert logged.create_logged_model(exp, source_run_id=run.info.run_id).source_run_id == (
        run.info.run_id
    )
    with pytest.raises(InvalidParameterValue):
        logged.create_logged_model(exp, tags={"bad$key": "v"})
    model = logged.create_logged_model(exp)
    with pytest.raises(InvalidParameterValue):
        logged.finalize_logged_model(model.model_id, status="DONE")
    with pytest.raises(InvalidParameterValue):
        logged.search_logged_models([exp], max_results=0)
    with pytest.raises(InvalidParameterValue):
        logged.search_logged_models([exp], page_token="garbage!")
    tracking.delete_experiment(exp)
    with pytest.raises(InvalidParameterValue):
        logged.create_logged_model(exp)


def test_register_logged_model(services: Services) -> None:
    logged, registry, tracking = services
    exp = tracking.create_experiment("churn")
    run = tracking.create_run(exp)
    model = logged.create_logged_model(exp, name="model", source_run_id=run.info.run_id)
    registry.create_registered_model("Churn")
    with pytest.raises(ResourceAlreadyExists):
        registry.create_registered_model("Churn")

    v1 = registry.create_model_version("Churn", source=f"models:/{model.model_id}")
    assert v1.version == 1 and v1.run_id == run.info.run_id and v1.model_id == model.model_id
    assert v1.storage_location == model.artifact_location
    tag = json.loads(logged.get_logged_model(model.model_id).tags["mlflow.modelVersions"])
    assert tag == [{"name": "Churn", "version": 1}]  # a number, as MLflow writes it

    # runs:/<run>/<name> finds the logged model the run produced under that name
    v2 = registry.create_model_version("Churn", source=f"runs:/{run.info.run_id}/model")
    assert v2.storage_location == model.artifact_location and v2.model_id == model.model_id
    # a runs:/ path that is not a logged model points into the run's artifacts
    v3 = registry.create_model_version("Churn", source=f"runs:/{run.info.run_id}/other")
    assert v3.storage_location == f"{run.info.artifact_uri}/other" and v3.model_id is None
    # registered references resolve to the referenced version's files
    registry.set_registered_model_alias("Churn", alias="champion", version="1")
    v4 = registry.create_model_version("Churn", source="models:/Churn@champion")
    assert v4.storage_location == model.artifact_location
    v5 = registry.create_model_version("Churn", source="models:/Churn/3")
    assert v5.storage_location == v3.storage_location
    # plain URIs are kept as they are
    v6 = registry.create_model_version("Churn", source="s3://bucket/path/model")
    assert v6.storage_location == "s3://bucket/path/model"
    assert registry.get_model_version_download_uri("Churn", version="1") == model.artifact_location


@pytest.mark.parametrize(
    "source",
    ["../x", "s3://b/../x", "s3://b/%2e%2e/x", "s3://b/%252e%252e/x", "file:///a\x00b", ""],
)
def test_model_version_source_rejected(services: Services, source: str) -> None:
    _, registry, _ = services
    registry.create_registered_model("M")
    with pytest.raises(InvalidParameterValue):
        registry.create_model_version("M", source=source)


def test_registry_validation(services: Services) -> None:
    _, registry, _ = services
    for bad in ("", "  ", "a/b", "a:b"):
        with pytest.raises(InvalidParameterValue):
            registry.create_registered_model(bad)
    registry.create_registered_model("M")
    registry.create_model_version("M", source="s3://b/m")
    for alias in ("latest", "LATEST", "v1", "V12", "bad alias", "x" * 256, ""):
        with pytest.raises(InvalidParameterValue):
            registry.set_registered_model_alias("M", alias=alias, version="1")
    with pytest.raises(InvalidParameterValue):
        registry.get_model_version("M", version="one")
    with pytest.raises(InvalidParameterValue):
        registry.transition_model_version_stage("M", version="1", stage="Prod")
    staged = registry.transition_model_version_stage("M", version="1", stage="staging")
    assert staged.current_stage == "Staging"
    with pytest.raises(InvalidParameterValue):
        registry.get_latest_versions("M", stages=["nope"])
    with pytest.raises(InvalidParameterValue):
        registry.search_registered_models(max_results=1001)
    with pytest.raises(InvalidParameterValue):
        registry.set_registered_model_tag("M", key="k", value="x" * 100_001)
    with pytest.raises(ResourceDoesNotExist):
        registry.create_model_version("Nope", source="s3://b/m")


def test_search_paging_tokens(services: Services) -> None:
    _, registry, _ = services
    for n in range(5):
        registry.create_registered_model(f"model-{n}")
    seen: list[str] = []
    token = None
    while True:
        page = registry.search_registered_models(max_results=2, page_token=token)
        seen += [m.name for m in page]
        token = page.token
        if token is None:
            break
    assert seen == [f"model-{n}" for n in range(5)]
