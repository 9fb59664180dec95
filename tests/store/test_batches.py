"""log_batch on every backend: all or nothing, applied once per idempotency key."""

from __future__ import annotations

import pytest

from mltrail.entities import Metric, Param, RunTag
from mltrail.errors import ParamOverwrite
from mltrail.service.tracking import TrackingService
from mltrail.store.sql import SqlTrackingStore
from mltrail.wire import columns_of


def test_batch_is_atomic(service: TrackingService, run_id: str) -> None:
    service.log_batch(run_id, params=[Param("C", "1")])
    with pytest.raises(ParamOverwrite):
        service.log_batch(
            run_id,
            metrics=columns_of([Metric("loss", 1.0, 1, 0)]),
            params=[Param("new", "x"), Param("C", "2")],
            tags=[RunTag("t", "v")],
        )
    run = service.get_run(run_id)
    assert run.data.params == {"C": "1"}
    assert "t" not in run.data.tags
    assert run.data.metrics == {}
    assert service.get_metric_history(run_id, key="loss") == []
    assert service.get_metric_summaries(run_id) == []


def test_idempotency_key_applies_a_batch_once(service: TrackingService, run_id: str) -> None:
    batch = [Metric("m", float(i), i, i) for i in range(10)]
    for _ in range(3):
        service.log_batch(run_id, metrics=columns_of(batch), idempotency_key="batch-1")
    assert len(service.get_metric_history(run_id, key="m")) == 10
    assert service.get_metric_summaries(run_id)[0].count == 10
    service.log_batch(run_id, metrics=columns_of(batch), idempotency_key="batch-2")
    assert len(service.get_metric_history(run_id, key="m")) == 20


def test_failed_batch_does_not_burn_its_key(service: TrackingService, run_id: str) -> None:
    service.log_batch(run_id, params=[Param("C", "1")])
    with pytest.raises(ParamOverwrite):
        service.log_batch(run_id, params=[Param("C", "2")], idempotency_key="k")
    service.log_batch(run_id, metrics=columns_of([Metric("m", 1.0, 1, 1)]), idempotency_key="k")
    assert service.get_run(run_id).data.metrics == {"m": 1.0}


def test_mixed_keys_in_one_batch(
    service: TrackingService, store: SqlTrackingStore, run_id: str
) -> None:
    metrics = [Metric(k, float(i), i, i) for i in range(100) for k in ("a", "b", "c")]
    service.log_batch(run_id, metrics=columns_of(metrics))
    latest = service.get_run(run_id).data.metrics
    assert latest == {"a": 99.0, "b": 99.0, "c": 99.0}
    for key in ("a", "b", "c"):
        assert [m.step for m in service.get_metric_history(run_id, key=key)] == list(range(100))


def test_concurrent_writers_lose_nothing(service: TrackingService, run_id: str) -> None:
    import threading

    errors: list[BaseException] = []

    def writer(worker: int) -> None:
        try:
            for i in range(15):
                service.log_batch(
                    run_id,
                    metrics=columns_of([Metric("shared", float(i), i, worker * 100 + i)]),
                    tags=[RunTag(f"w{worker}", str(i))],
                )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    history = service.get_metric_history(run_id, key="shared")
    assert len(history) == 60
    assert len({m.step for m in history}) == 60
    (summary,) = service.get_metric_summaries(run_id)
    assert summary.count == 60 and summary.step == 314
