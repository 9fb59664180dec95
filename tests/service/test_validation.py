"""The service refuses bad input with typed errors (and their codes) before touching the store."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from mltrail.entities import Metric, Param, RunTag
from mltrail.errors import InvalidParameterValue, MltrailError, ResourceDoesNotExist
from mltrail.service.names import generate_run_name
from mltrail.service.tracking import TrackingService
from mltrail.service.validation import BatchLimits
from mltrail.store.sql import open_store
from mltrail.wire import columns_of


@pytest.fixture
def service(sqlite_uri: str) -> Iterator[TrackingService]:
    store = open_store(sqlite_uri, default_artifact_root="/srv/a")
    try:
        yield TrackingService(
            store=store, limits=BatchLimits(max_metrics=5, max_params=2, max_tags=2)
        )
    finally:
        store.close()


@pytest.fixture
def run_id(service: TrackingService) -> str:
    return service.create_run("0").info.run_id


def _invalid(
    call: Any, *args: Any, match: str | None = None, **kwargs: Any
) -> InvalidParameterValue:
    with pytest.raises(InvalidParameterValue, match=match) as err:
        call(*args, **kwargs)
    assert err.value.code == "INVALID_PARAMETER_VALUE" and err.value.status == 400
    return err.value


@pytest.mark.parametrize(
    "key",
    ["", "bad$name", "a" * 251, "/abs", "a/../b", "..", "a//b", "./a", "tab\there", 5],
)
def test_bad_keys(service: TrackingService, run_id: str, key: Any) -> None:
    _invalid(service.log_batch, run_id, metrics=columns_of([Metric(key, 1.0, 1, 0)]))
    _invalid(service.log_batch, run_id, params=[Param(key, "v")])
    _invalid(service.log_batch, run_id, tags=[RunTag(key, "v")])


@pytest.mark.parametrize("key", ["a", "a b", "dir/sub.key-1_x", "ünïcode", "a:b", "a" * 250])
def test_good_keys(service: TrackingService, run_id: str, key: str) -> None:
    service.log_batch(
        run_id, metrics=columns_of([Metric(key, 1.0, 1, 0)]), params=[Param(key, "v")]
    )
    assert service.get_run(run_id).data.params == {key: "v"}


def test_key_charset_message(service: TrackingService, run_id: str) -> None:
    err = _invalid(service.log_batch, run_id, metrics=columns_of([Metric("bad$name", 1.0, 1, 0)]))
    assert "Names may only contain alphanumerics" in err.message


@pytest.mark.parametrize(
    "metric",
    [
        Metric("m", True, 1, 0),
        Metric("m", "1.0", 1, 0),  # type: ignore[arg-type]
        Metric("m", None, 1, 0),  # type: ignore[arg-type]
        Metric("m", 1.0, -1, 0),
        Metric("m", 1.0, 1.5, 0),  # type: ignore[arg-type]
        Metric("m", 1.0, 1, 2**63),
        Metric("m", 1.0, 1, "3"),  # type: ignore[arg-type]
    ],
)
def test_bad_metric_values(service: TrackingService, run_id: str, metric: Metric) -> None:
    _invalid(service.log_batch, run_id, metrics=columns_of([Metric("ok", 1.0, 1, 0), metric]))
    assert service.get_run(run_id).data.metrics == {}


def test_value_lengths(service: TrackingService, run_id: str) -> None:
    service.log_batch(run_id, params=[Param("p", "x" * 6000)], tags=[RunTag("t", "y" * 8000)])
    _invalid(service.log_batch, run_id, params=[Param("q", "x" * 6001)])
    _invalid(service.log_batch, run_id, tags=[RunTag("u", "y" * 8001)])


def test_batch_limits(service: TrackingService, run_id: str) -> None:
    err = _invalid(service.log_batch, run_id, params=[Param(f"p{i}", "1") for i in range(3)])
    assert err.message == (
        "A batch logging request can contain at most 2 params. Got 3 params. "
        "Please split up params across multiple requests and try again."
    )
    _invalid(
        service.log_batch, run_id, metrics=columns_of(Metric("m", 1.0, 1, i) for i in range(6))
    )
    _invalid(service.log_batch, run_id, tags=[RunTag(f"t{i}", "1") for i in range(3)])
    assert BatchLimits().max_metrics == 100_000


def test_experiment_names(service: TrackingService) -> None:
    for bad in ("", "   ", "x" * 257, None, 3):
        _invalid(service.create_experiment, bad)
    exp_id = service.create_experiment("x" * 256)
    _invalid(service.rename_experiment, exp_id, new_name="")


def test_run_arguments(service: TrackingService, run_id: str) -> None:
    _invalid(service.create_run, "0", run_id="ABCDEF")
    _invalid(service.create_run, "0", run_id="g" * 32)
    _invalid(service.create_run, "0", start_time=-5)
    _invalid(service.create_run, "0", run_name="a", tags={"mlflow.runName": "b"})
    _invalid(service.update_run, run_id, status="SLEEPING")
    _invalid(service.get_run, 31)
    _invalid(service.search_runs, ["0"], max_results=0)
    _invalid(service.search_runs, ["0"], max_results=50_001)
    _invalid(service.search_experiments, view_type="sideways")
    _invalid(service.get_metric_history, run_id, key="m", page_token="%%%")
    _invalid(service.get_metric_history, run_id, key="m", max_results=0)
    _invalid(service.get_metric_history_sampled, run_id, key="m", max_points=0)
    _invalid(
        service.get_metric_history_sampled, run_id, key="m", max_points=10, start_step=5, end_step=1
    )
    _invalid(
        service.log_batch, run_id, metrics=columns_of([Metric("m", 1.0, 1, 0)]), idempotency_key=""
    )


def test_malformed_filter_is_a_400(service: TrackingService) -> None:
    err = _invalid(service.search_runs, ["0"], filter_string="params.x = ")
    assert err.code == "INVALID_PARAMETER_VALUE"


def test_not_found_errors(service: TrackingService) -> None:
    with pytest.raises(ResourceDoesNotExist) as err:
        service.get_run("0" * 32)
    assert err.value.code == "RESOURCE_DOES_NOT_EXIST" and err.value.status == 404
    with pytest.raises(ResourceDoesNotExist, match="No Experiment with id=42 exists"):
        service.create_run("42")


def test_status_accepts_names_and_numbers(service: TrackingService, run_id: str) -> None:
    assert service.update_run(run_id, status="finished").status == "FINISHED"  # type: ignore[arg-type]
    assert service.update_run(run_id, status=4).status == "FAILED"  # type: ignore[arg-type]


def test_generated_run_names() -> None:
    names = {generate_run_name() for _ in range(50)}
    assert len(names) > 40
    for name in names:
        adjective, animal, number = name.split("-")
        assert adjective.isalpha() and animal.isalpha() and len(number) == 3


def test_errors_are_typed(service: TrackingService) -> None:
    with pytest.raises(MltrailError):
        service.delete_experiment("77")


def test_non_string_metric_key(service: TrackingService, run_id: str) -> None:
    for key in (5, ("k",), None):
        _invalid(service.log_batch, run_id, metrics={key: ([1], [0], [1.0])})  # type: ignore[dict-item]
