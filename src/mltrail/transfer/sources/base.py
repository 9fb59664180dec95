"""What every source offers the import, and helpers the sources share.

A source lists experiments, their runs (with params, tags, inputs and outputs), the metric
series of a batch of runs, logged models, registered models, and reads artifact files.
Metric series come out as :class:`~mltrail.store.sql.metrics.Series` (sorted numpy arrays),
a few runs at a time, so memory stays bounded by the batch and not by the store.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

import numpy as np

from mltrail.model_entities import LoggedModel
from mltrail.store.sql.metrics import Series, sorted_series
from mltrail.transfer.records import (
    ArtifactFile,
    ExperimentRecord,
    RegisteredModelRecord,
    RunRecord,
)

# Points read per batch of runs: a batch is cut when the next run would pass this.
POINTS_PER_BATCH = 400_000


class Source(Protocol):
    label: str
    # Whether metric_counts is cheap (a query) or reads every point (files, REST).
    counts_are_cheap: bool

    def experiments(self) -> list[ExperimentRecord]: ...

    def runs(self, experiment: ExperimentRecord) -> list[RunRecord]: ...

    def metric_counts(self, runs: Sequence[RunRecord]) -> dict[str, dict[str, int]]:
        """run_id -> {key: number of points}."""
        ...

    def series(self, runs: Sequence[RunRecord]) -> Iterator[tuple[str, dict[str, Series]]]:
        """(run_id, {key: every point}) for each run, in bounded memory."""
        ...

    def logged_models(self, experiment: ExperimentRecord) -> list[LoggedModel]: ...

    def registered_models(self) -> list[RegisteredModelRecord]: ...

    def list_artifacts(self, location: str) -> list[ArtifactFile]:
        """Every file below ``location`` (recursively); empty when there is nothing there."""
        ...

    def location_exists(self, location: str) -> bool: ...

    def readable_location(self, location: str) -> str:
        """The location as mltrail can read it (a path or URL), or UnreadableLocation."""
        ...

    def open_artifact(self, location: str, path: str) -> Iterator[bytes]: ...

    def close(self) -> None: ...


def batches_by_points(
    runs: Sequence[RunRecord], counts: dict[str, dict[str, int]], *, limit: int = POINTS_PER_BATCH
) -> Iterator[list[RunRecord]]:
    """Consecutive groups of runs holding at most ``limit`` points (a bigger run goes alone)."""
    batch: list[RunRecord] = []
    total = 0
    for run in runs:
        points = sum(counts.get(run.run_id, {}).values())
        if batch and total + points > limit:
            yield batch
            batch, total = [], 0
        batch.append(run)
        total += points
    if batch:
        yield batch


class SeriesCollector:
    """Rows of (run, key, step, timestamp, value) in blocks, grouped into sorted series."""

    def __init__(self) -> None:
        self._codes: dict[tuple[str, str], int] = {}
        self._blocks: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []

    def add(
        self,
        run_ids: Sequence[str],
        keys: Sequence[str],
        steps: Sequence[int],
        timestamps: Sequence[int],
        values: Sequence[float],
    ) -> None:
        n = len(steps)
        if not n:
            return
        codes = self._codes
        code = np.fromiter(
            (codes.setdefault(pair, len(codes)) for pair in zip(run_ids, keys, strict=True)),
            dtype=np.int64,
            count=n,
        )
        self._blocks.append(
            (
                code,
                np.fromiter(steps, dtype=np.int64, count=n),
                np.fromiter(timestamps, dtype=np.int64, count=n),
                np.fromiter(values, dtype=np.float64, count=n),
            )
        )

    def add_arrays(
        self, run_id: str, key: str, steps: np.ndarray, timestamps: np.ndarray, values: np.ndarray
    ) -> None:
        code = self._codes.setdefault((run_id, key), len(self._codes))
        n = len(steps)
        self._blocks.append(
            (
                np.full(n, code, dtype=np.int64),
                steps.astype(np.int64, copy=False),
                timestamps.astype(np.int64, copy=False),
                values.astype(np.float64, copy=False),
            )
        )

    def grouped(self) -> dict[str, dict[str, Series]]:
        """run_id -> key -> sorted series."""
        out: dict[str, dict[str, Series]] = {}
        if not self._blocks:
            return out
        code = np.concatenate([b[0] for b in self._blocks])
        steps = np.concatenate([b[1] for b in self._blocks])
        stamps = np.concatenate([b[2] for b in self._blocks])
        values = np.concatenate([b[3] for b in self._blocks])
        self._blocks = []
        order = np.argsort(code, kind="stable")
        code = code[order]
        bounds = np.flatnonzero(np.diff(code)) + 1
        starts = np.concatenate(([0], bounds))
        ends = np.concatenate((bounds, [len(code)]))
        pairs = {c: pair for pair, c in self._codes.items()}
        for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
            run_id, key = pairs[int(code[start])]
            pick = order[start:end]
            out.setdefault(run_id, {})[key] = sorted_series(steps[pick], stamps[pick], values[pick])
        return out
