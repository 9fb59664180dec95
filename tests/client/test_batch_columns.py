"""The sender's columns: every queue shape (cyclic keys, irregular keys, several runs, params
and tags in between) arrives point for point, in order, and the stats count every point."""

from __future__ import annotations

import random
from pathlib import Path

import mltrail
from mltrail.client.batching import run_stats


def _history(run_id: str, key: str) -> list[tuple[int, int, float]]:
    client = mltrail.TrackingClient()
    return [(m.step, m.timestamp, m.value) for m in client.get_metric_history(run_id, key)]


def test_cyclic_keys_with_a_partial_last_cycle(store_dir: Path) -> None:
    keys = ["a", "b", "c"]
    with mltrail.start_run() as run:
        # 25,001 points: batches of 10,000 start mid-cycle and the last cycle is cut short.
        for i in range(25_001):
            mltrail.log_metric(keys[i % 3], float(i), step=i // 3, timestamp=i)
        mltrail.flush()
    for j, key in enumerate(keys):
        expected = [(i // 3, i, float(i)) for i in range(j, 25_001, 3)]
        assert _history(run.info.run_id, key) == expected
    stats = run_stats(run.info.run_id)
    assert (stats.accepted, stats.sent, stats.acknowledged) == (25_001, 25_001, 25_001)


def test_irregular_keys_runs_params_and_tags(store_dir: Path) -> None:
    rng = random.Random(7)
    client = mltrail.TrackingClient()
    exp = client.create_experiment("cols")
    other = client.create_run(exp).info.run_id
    expected: dict[tuple[str, str], list[tuple[int, int, float]]] = {}
    with mltrail.start_run() as run:
        for i in range(30_000):
            key = rng.choice(["x", "y", "z/w"])
            rid = other if i % 7 == 0 else run.info.run_id
            mltrail.log_metric(key, i * 0.25, step=i, timestamp=i, run_id=rid)
            expected.setdefault((rid, key), []).append((i, i, i * 0.25))
            if i % 5000 == 0:
                mltrail.log_param(f"p{i}", i)
                mltrail.set_tag("t", str(i))
        mltrail.flush()
        stored = mltrail.get_run(run.info.run_id)
    for (rid, key), points in expected.items():
        assert _history(rid, key) == points
    assert stored.data.params == {f"p{i}": str(i) for i in range(0, 30_000, 5000)}
    assert stored.data.tags["t"] == "25000"
    total = sum(len(p) for (rid, _), p in expected.items() if rid == run.info.run_id)
    assert run_stats(run.info.run_id).acknowledged == total


def test_accepted_counts_every_point_while_the_sender_drains(store_dir: Path) -> None:
    with mltrail.start_run() as run:
        seen = []
        for i in range(40_000):
            mltrail.log_metric("m", 1.0, step=i)
            if i % 4000 == 3999:
                # Some points are still queued, some taken by the sender: each counted once.
                seen.append(run_stats(run.info.run_id).accepted)
        mltrail.flush()
    assert seen == list(range(4000, 40_001, 4000))
    assert run_stats(run.info.run_id).acknowledged == 40_000
