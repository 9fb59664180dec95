"""The TrackingAPI through RestBackend against the server app (in-process; a real server
where its access log is the evidence)."""

from __future__ import annotations

import math
import time

import pytest

from mltrail.entities import Metric, Param, RunStatus, RunTag, ViewType
from mltrail.errors import InvalidParameterValue, ResourceAlreadyExists, ResourceDoesNotExist
from mltrail.wire import columns_of

from .conftest import AppServer, LiveServer


def test_experiments_roundtrip(app_live_server: AppServer) -> None:
    api = app_live_server.backend()
    exp_id = api.create_experiment("churn", tags={"team": "ds"})
    exp = api.get_experiment(exp_id)
    assert exp.name == "churn"
    assert exp.tags == {"team": "ds"}
    assert exp.artifact_location == f"mlflow-artifacts:/{exp_id}"
    assert api.get_experiment_by_name("churn") == exp
    assert api.get_experiment_by_name("nope") is None
    with pytest.raises(ResourceAlreadyExists):
        api.create_experiment("churn")

    api.rename_experiment(exp_id, new_name="churn-2")
    api.set_experiment_tag(exp_id, key="k", value="v")
    api.delete_experiment_tag(exp_id, key="team")
    exp = api.get_experiment(exp_id)
    assert (exp.name, exp.tags) == ("churn-2", {"k": "v"})

    api.delete_experiment(exp_id)
    assert exp_id not in [e.experiment_id for e in api.search_experiments()]
    deleted = api.search_experiments(view_type=ViewType.DELETED_ONLY)
    assert [e.experiment_id for e in deleted] == [exp_id]
    api.restore_experiment(exp_id)
    assert api.get_experiment(exp_id).lifecycle_stage == "active"

    for i in range(5):
        api.create_experiment(f"paged-{i}")
    first = api.search_experiments(max_results=3, filter_string="name LIKE 'paged-%'")
    assert len(first) == 3 and first.token
    rest = api.search_experiments(
        max_results=3, filter_string="name LIKE 'paged-%'", page_token=first.token
    )
    assert len(rest) == 2 and rest.token is None


def test_runs_roundtrip(app_live_server: AppServer) -> None:
    api = app_live_server.backend()
    exp_id = api.create_experiment("runs")
    chosen = "a" * 32
    run = api.create_run(exp_id, run_name="r1", tags={"t": "1"}, run_id=chosen, start_time=123)
    assert run.info.run_id == chosen
    assert run.info.start_time == 123
    assert run.info.artifact_uri.startswith(f"mlflow-artifacts:/{exp_id}/{chosen}")
    info = api.update_run(chosen, status=RunStatus.FINISHED, end_time=456)
    assert (info.status, info.end_time) == ("FINISHED", 456)

    api.log_batch(
        chosen,
        metrics=columns_of([Metric("m", 0.5, 1, 0)]),
        params=[Param("p", "v3")],
        tags=[RunTag("t2", "x")],
    )
    got = api.get_run(chosen)
    assert got.data.metrics == {"m": 0.5}
    assert got.data.params == {"p": "v3"}
    assert got.data.tags["t2"] == "x"
    api.delete_tag(chosen, key="t2")
    assert "t2" not in api.get_run(chosen).data.tags

    other = api.create_run(exp_id).info.run_id
    api.log_batch(other, metrics=columns_of([Metric("m", 0.1, 1, 0)]), params=[Param("p", "v1")])
    found = api.search_runs([exp_id], filter_string="metrics.m > 0.2 and params.p = 'v3'")
    assert [r.info.run_id for r in found] == [chosen]
    ordered = api.search_runs([exp_id], order_by=["metrics.m DESC"])
    assert [r.info.run_id for r in ordered] == [chosen, other]

    api.delete_run(other)
    assert [r.info.run_id for r in api.search_runs([exp_id])] == [chosen]
    api.restore_run(other)
    assert len(api.search_runs([exp_id])) == 2

    with pytest.raises(ResourceDoesNotExist):
        api.get_run("f" * 32)
    with pytest.raises(InvalidParameterValue):
        api.log_batch(chosen, params=[Param("p", "changed")])


def test_batch_of_100k_points_history_and_sampling(app_live_server: AppServer) -> None:
    api = app_live_server.backend()
    run_id = api.create_run(api.create_experiment("big")).info.run_id
    now = int(time.time() * 1000)
    points = [Metric(f"k{j}", float(i % 97), now + i, i) for j in range(10) for i in range(10_000)]
    api.log_batch(run_id, metrics=columns_of(points))

    history = api.get_metric_history(run_id, key="k3")
    assert len(history) == 10_000
    assert [m.step for m in history] == list(range(10_000))
    assert history[96].value == 96.0 and history[97].value == 0.0

    page = api.get_metric_history(run_id, key="k3", max_results=4000)
    assert len(page) == 4000 and page.token
    nxt = api.get_metric_history(run_id, key="k3", max_results=4000, page_token=page.token)
    assert nxt[0].step == 4000

    sampled = api.get_metric_history_sampled(run_id, key="k3", max_points=200)
    assert 2 <= len(sampled) <= 200
    # Downsampling keeps the spikes.
    assert max(m.value for m in sampled) == 96.0
    assert min(m.value for m in sampled) == 0.0

    summaries = {s.key: s for s in api.get_metric_summaries(run_id)}
    assert summaries["k0"].count == 10_000
    assert summaries["k0"].max == 96.0


def test_batch_larger_than_one_request_is_split(app_live_server: AppServer) -> None:
    api = app_live_server.backend()
    run_id = api.create_run(api.create_experiment("huge")).info.run_id
    points = [Metric("x", float(i), 1, i) for i in range(150_000)]
    api.log_batch(run_id, metrics=columns_of(points))
    assert len(api.get_metric_history(run_id, key="x")) == 150_000


def test_idempotent_retry_applies_once(app_live_server: AppServer) -> None:
    api = app_live_server.backend()
    run_id = api.create_run(api.create_experiment("idem")).info.run_id
    batch = [Metric("loss", 1.0, 10, 0), Metric("loss", 0.5, 11, 1)]
    api.log_batch(run_id, metrics=columns_of(batch), idempotency_key="batch-1")
    api.log_batch(run_id, metrics=columns_of(batch), idempotency_key="batch-1")
    assert len(api.get_metric_history(run_id, key="loss")) == 2
    api.log_batch(run_id, metrics=columns_of(batch), idempotency_key="batch-2")
    assert len(api.get_metric_history(run_id, key="loss")) == 4


def test_non_finite_values_roundtrip(app_live_server: AppServer) -> None:
    api = app_live_server.backend()
    run_id = api.create_run(api.create_experiment("nan")).info.run_id
    values = [math.nan, math.inf, -math.inf, 1.5]
    api.log_batch(run_id, metrics=columns_of([Metric("v", v, 1, i) for i, v in enumerate(values)]))
    got = [m.value for m in api.get_metric_history(run_id, key="v")]
    assert math.isnan(got[0]) and got[1:] == [math.inf, -math.inf, 1.5]
    latest = api.get_run(run_id).data.metrics["v"]
    assert latest == 1.5
    summary = api.get_metric_summaries(run_id)[0]
    assert summary.count == 4


def test_nothing_listening_fails_at_once_with_a_typed_error() -> None:
    from mltrail.client.rest import RestBackend
    from mltrail.config import Settings
    from mltrail.errors import TrackingServerUnreachable

    from .conftest import free_port

    backend = RestBackend(
        f"http://127.0.0.1:{free_port()}", settings=Settings(http_max_retries=7, http_timeout=2.0)
    )
    start = time.monotonic()
    with pytest.raises(TrackingServerUnreachable, match="Nothing answers at"):
        backend.get_experiment("0")
    # A server that never answered is a wrong address: not worth the outage's 7 retries.
    assert time.monotonic() - start < 2
    backend.close()


def test_connection_failure_is_typed_after_retries(live_server: LiveServer) -> None:
    from mltrail.errors import ConnectionFailed, TrackingServerUnreachable

    backend = live_server.backend(http_max_retries=2, http_timeout=2.0)
    backend.get_experiment("0")
    live_server.stop()
    start = time.monotonic()
    with pytest.raises(ConnectionFailed, match="after 3 attempts") as caught:
        backend.get_experiment("0")
    # The server answered before: an outage, retried, not a wrong address.
    assert not isinstance(caught.value, TrackingServerUnreachable)
    assert time.monotonic() - start < 5


def test_client_errors_are_not_retried(live_server: LiveServer) -> None:
    api = live_server.backend(http_max_retries=5)
    with pytest.raises(ResourceDoesNotExist):
        api.get_run("e" * 32)
    assert live_server.log().count(f"GET /api/v1/runs/{'e' * 32}") == 1
