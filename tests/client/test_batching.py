"""Background logging: counts, errors surfacing at flush/end_run, synchronous mode."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import mltrail
from mltrail.client.fluent.state import reset_state
from mltrail.errors import InvalidParameterValue, ParamOverwrite


def test_hundred_thousand_points_arrive_exactly_once(store_dir: Path) -> None:
    with mltrail.start_run() as run:
        for step in range(100_000):
            mltrail.log_metric("loss", step * 0.5, step=step)
        mltrail.flush()
        history = mltrail.TrackingClient().get_metric_history(run.info.run_id, "loss")
    assert len(history) == 100_000
    assert [m.step for m in history] == list(range(100_000))
    assert history[-1].value == 99_999 * 0.5


def test_log_metrics_step_default_and_special_values(store_dir: Path) -> None:
    with mltrail.start_run() as run:
        mltrail.log_metrics({"a": 1, "nan": float("nan"), "inf": float("inf")})
        mltrail.log_metrics({"a": 2}, step=7, timestamp=1234)
    client = mltrail.TrackingClient()
    a = client.get_metric_history(run.info.run_id, "a")
    assert [(m.step, m.value) for m in a] == [(0, 1.0), (7, 2.0)]
    assert a[1].timestamp == 1234
    assert math.isnan(client.get_metric_history(run.info.run_id, "nan")[0].value)
    assert client.get_metric_history(run.info.run_id, "inf")[0].value == math.inf


def test_metric_value_checked_at_call_site(store_dir: Path) -> None:
    with mltrail.start_run():
        with pytest.raises(InvalidParameterValue, match="invalid value 'abc'"):
            mltrail.log_metric("m", "abc")  # type: ignore[arg-type]
        with pytest.raises(InvalidParameterValue, match="key must be a string"):
            mltrail.log_metric(3, 1.0)  # type: ignore[arg-type]
        with pytest.raises(InvalidParameterValue, match="invalid step"):
            mltrail.log_metric("m", 1.0, step=1.5)  # type: ignore[arg-type]
        with pytest.raises(InvalidParameterValue, match="key must be a string"):
            mltrail.log_params({1: "x"})  # type: ignore[dict-item]


def _logged_elsewhere(run_id: str, key: str, value: object) -> None:
    """A value the fluent API cannot know of (another process logged it), so that a different
    one is refused by the store, after the call returned."""
    mltrail.TrackingClient(mltrail.get_tracking_uri()).log_param(run_id, key, value)


def test_param_overwrite_surfaces_at_flush(store_dir: Path) -> None:
    with mltrail.start_run() as run:
        _logged_elsewhere(run.info.run_id, "lr", 0.1)
        mltrail.log_param("lr", 0.2)  # returns immediately: the error is kept for later
        mltrail.log_metric("kept", 1.0)
        with pytest.raises(ParamOverwrite):
            mltrail.flush()
        mltrail.flush()  # the error was raised once and is gone
    stored = mltrail.get_run(run.info.run_id)
    assert stored.data.params == {"lr": "0.1"}
    assert stored.data.metrics == {"kept": 1.0}


def test_param_overwrite_surfaces_at_end_run_and_run_still_ends(store_dir: Path) -> None:
    run = mltrail.start_run()
    _logged_elsewhere(run.info.run_id, "lr", 0.1)
    mltrail.log_param("lr", 0.2)
    with pytest.raises(ParamOverwrite):
        mltrail.end_run()
    assert mltrail.active_run() is None
    assert mltrail.get_run(run.info.run_id).info.status == "FINISHED"


def test_param_overwrite_across_runs_does_not_leak(store_dir: Path) -> None:
    with mltrail.start_run():
        mltrail.log_param("p", 1)
        with mltrail.start_run(nested=True):
            mltrail.log_param("p", 2)  # a different run: not an overwrite
    mltrail.flush()


def test_bad_item_does_not_sink_its_batch(store_dir: Path) -> None:
    with mltrail.start_run() as run:
        mltrail.log_params({"good1": 1, "bad key\x00": 2, "good2": 3})
        with pytest.raises(InvalidParameterValue):
            mltrail.flush()
    assert mltrail.get_run(run.info.run_id).data.params == {"good1": "1", "good2": "3"}


def test_synchronous_mode_raises_at_call_site(store_dir: Path) -> None:
    mltrail.set_synchronous(True)
    with mltrail.start_run() as run:
        mltrail.log_param("lr", 0.1)
        with pytest.raises(ParamOverwrite):
            mltrail.log_param("lr", 0.2)
        mltrail.log_metric("m", 1.0)
        # Nothing is queued: the value is already stored.
        assert mltrail.get_run(run.info.run_id).data.metrics == {"m": 1.0}


def test_synchronous_per_call(store_dir: Path) -> None:
    with mltrail.start_run() as run:
        mltrail.log_param("lr", 0.1, synchronous=True)
        with pytest.raises(ParamOverwrite):
            mltrail.log_param("lr", 0.2, synchronous=True)
        mltrail.set_tag("t", "v", synchronous=True)
        assert mltrail.get_run(run.info.run_id).data.tags["t"] == "v"


def test_synchronous_from_environment(store_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLTRAIL_SYNCHRONOUS", "true")
    reset_state()
    mltrail.set_tracking_uri(str(store_dir))
    with mltrail.start_run():
        mltrail.log_param("a", 1)
        with pytest.raises(ParamOverwrite):
            mltrail.log_param("a", 2)


def test_many_params_and_tags_are_split(store_dir: Path) -> None:
    with mltrail.start_run() as run:
        mltrail.log_params({f"p{i}": i for i in range(250)})
        mltrail.set_tags({f"t{i}": i for i in range(150)})
    data = mltrail.get_run(run.info.run_id).data
    assert len(data.params) == 250
    assert len([k for k in data.tags if k.startswith("t")]) == 150


def test_tracking_client_log_batch_chunks(store_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mltrail.entities import Metric, Param

    monkeypatch.setenv("MLTRAIL_BATCH_MAX_POINTS", "7")
    client = mltrail.TrackingClient(str(store_dir))
    run = client.create_run("0")
    client.log_batch(
        run.info.run_id,
        metrics=[Metric("m", float(i), 1000 + i, i) for i in range(25)],
        params=[Param(f"p{i}", str(i)) for i in range(230)],
    )
    assert len(client.get_metric_history(run.info.run_id, "m")) == 25
    assert len(client.get_run(run.info.run_id).data.params) == 230


def test_flush_with_timeout_and_nothing_queued(store_dir: Path) -> None:
    mltrail.flush(timeout=5)
    with mltrail.start_run():
        mltrail.log_metric("m", 1.0)
        mltrail.flush(timeout=30)


def test_threads_log_to_their_own_runs(store_dir: Path) -> None:
    import threading

    run_ids: dict[int, str] = {}

    def work(n: int) -> None:
        with mltrail.start_run() as run:
            run_ids[n] = run.info.run_id
            for step in range(2_000):
                mltrail.log_metric("m", float(n), step=step)
            mltrail.log_param("worker", n)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    client = mltrail.TrackingClient()
    for n, rid in run_ids.items():
        history = client.get_metric_history(rid, "m")
        assert len(history) == 2_000
        assert {m.value for m in history} == {float(n)}
        run = client.get_run(rid)
        assert run.data.params == {"worker": str(n)}
        assert run.info.status == "FINISHED"


def test_numpy_scalars_are_accepted(store_dir: Path) -> None:
    import numpy as np

    with mltrail.start_run() as run:
        mltrail.log_metric("m", np.float32(0.5), step=np.int64(3))  # type: ignore[arg-type]
        assert mltrail.log_param("p", np.int64(7)) == 7
    stored = mltrail.get_run(run.info.run_id)
    assert stored.data.metrics == {"m": 0.5}
    assert stored.data.params == {"p": "7"}
    history = mltrail.TrackingClient().get_metric_history(run.info.run_id, "m")
    assert history[0].step == 3


def test_explicit_run_id_logging(store_dir: Path) -> None:
    client = mltrail.TrackingClient()
    other = client.create_run("0").info.run_id
    with mltrail.start_run() as active:
        mltrail.log_metric("m", 1.0, run_id=other)
        mltrail.set_tag("t", "x", run_id=other)
    assert client.get_run(other).data.metrics == {"m": 1.0}
    assert client.get_run(other).data.tags["t"] == "x"
    assert client.get_run(active.info.run_id).data.metrics == {}
