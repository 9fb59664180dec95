"""The spike-keeping downsampling against a plain per-bucket reference, NaN and ties included."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mltrail.store.sql.metrics import Series, downsample


def reference(steps: list[int], values: list[float], max_points: int) -> list[int]:
    """Indices kept: first, last, and per step bucket the first minimum and the last maximum
    (a NaN in a bucket is its maximum, so that the gap shows)."""
    n = len(steps)
    buckets = (max_points - 2) // 2
    lo, hi = steps[0], steps[-1]
    groups: dict[int, list[int]] = {}
    for i in range(1, n - 1):
        if hi > lo:
            b = min(int((steps[i] - lo) / (hi - lo) * buckets), buckets - 1)
        else:
            b = (i - 1) * buckets // max(1, n - 2)
        groups.setdefault(b, []).append(i)
    keep = {0, n - 1}
    for members in groups.values():
        finite = [i for i in members if not math.isnan(values[i])]
        nans = [i for i in members if math.isnan(values[i])]
        if finite:
            low = min(values[i] for i in finite)
            keep.add(next(i for i in finite if values[i] == low))
        else:
            keep.add(nans[0])
        if nans:
            keep.add(nans[-1])
        else:
            high = max(values[i] for i in finite)
            keep.add([i for i in finite if values[i] == high][-1])
    return sorted(keep)


@pytest.mark.parametrize("seed", range(40))
def test_matches_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 600))
    steps = np.sort(rng.integers(0, int(rng.integers(1, 400)), n)).astype(np.int64)
    pool = np.array([0.0, -0.0, 1.0, 2.5, np.inf, -np.inf, np.nan])
    values = rng.choice(pool, n) if seed % 2 else rng.random(n)
    if seed % 5 == 0:
        values[rng.random(n) < 0.3] = np.nan
    max_points = int(rng.integers(3, 120))
    got = downsample(Series(steps, steps * 10, values), max_points)
    if n <= max_points:
        assert len(got) == n
        return
    expected = reference(steps.tolist(), values.tolist(), max_points)
    assert got.steps.tolist() == steps[expected].tolist()
    assert np.array_equal(got.values, values[expected], equal_nan=True)
    assert len(got) <= max_points


def test_a_single_spike_in_a_million_points_survives() -> None:
    n = 1_000_000
    steps = np.arange(n, dtype=np.int64)
    values = np.random.default_rng(0).random(n)
    values[654_321] = 50.0
    got = downsample(Series(steps, steps, values), 1000)
    assert len(got) <= 1000
    assert 654_321 in got.steps.tolist()
