"""``--log-to-run``: prediction statistics per minute, logged to a monitoring run.

Each request adds its row count and a sample of its predictions (at most
:data:`SAMPLE_PER_MINUTE` values per output and minute, a uniform reservoir) to the current
minute. Finished minutes go to a sink: in one process, the thread that logs them; with several
workers, a queue to the supervising process, which adds up the workers' minutes and logs them
once. Metrics: ``serving/requests``, ``serving/rows``, ``serving/errors`` and, for each numeric
output, ``<output>/mean``, ``/p05``, ``/p50``, ``/p95`` and ``/count``; the step is the minute
since the run started, the timestamp the minute's end. Logging never blocks or fails a request.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from mltrail.serving.outputs import output_columns

if TYPE_CHECKING:
    from mltrail.client.tracking_client import TrackingClient
    from mltrail.entities import Metric

logger = logging.getLogger("mltrail.serving")

SAMPLE_PER_MINUTE = 2_000
QUANTILES = {"p05": 0.05, "p50": 0.5, "p95": 0.95}
FLUSH_SECONDS = 5.0


@dataclass
class MinuteSummary:
    minute: int  # minutes since the epoch
    requests: int = 0
    rows: int = 0
    errors: int = 0
    seen: dict[str, int] = field(default_factory=dict)
    samples: dict[str, np.ndarray] = field(default_factory=dict)

    def add(self, name: str, values: np.ndarray, rng: np.random.Generator) -> None:
        """Reservoir sampling, vectorised: value ``i`` of the stream is kept with probability
        ``SAMPLE_PER_MINUTE / (i + 1)``, in a random slot."""
        finite = values[np.isfinite(values)]
        seen = self.seen.get(name, 0)
        sample = self.samples.get(name, np.empty(0, dtype=np.float64))
        room = max(SAMPLE_PER_MINUTE - len(sample), 0)
        if room:
            sample = np.concatenate([sample, finite[:room]])
        rest = finite[room:]
        if len(rest):
            positions = seen + room + np.arange(len(rest))
            slots = rng.integers(0, positions + 1)
            keep = slots < SAMPLE_PER_MINUTE
            sample[slots[keep]] = rest[keep]
        self.samples[name] = sample
        self.seen[name] = seen + len(finite)

    def merge(self, other: MinuteSummary, rng: np.random.Generator) -> None:
        self.requests += other.requests
        self.rows += other.rows
        self.errors += other.errors
        for name, values in other.samples.items():
            # The other sample stands for other.seen values; weight it by adding it as a stream.
            self.add(name, values, rng)
            self.seen[name] += other.seen.get(name, len(values)) - len(values)


def minute_now() -> int:
    return int(time.time() // 60)


class PredictionMonitor:
    """Collects minutes in the serving process and hands finished ones to ``sink``."""

    def __init__(self, sink: Callable[[MinuteSummary], None]) -> None:
        self._sink = sink
        self._lock = threading.Lock()
        self._current: MinuteSummary | None = None
        self._rng = np.random.default_rng()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _minute(self) -> MinuteSummary:
        now = minute_now()
        current = self._current
        if current is None or current.minute != now:
            if current is not None:
                self._hand_over(current)
            current = self._current = MinuteSummary(minute=now)
        return current

    def record(self, rows: int, predictions: Any) -> None:
        outputs = output_columns(predictions)
        with self._lock:
            summary = self._minute()
            summary.requests += 1
            summary.rows += rows
            for name, values in outputs.items():
                summary.add(name, values, self._rng)

    def record_error(self) -> None:
        with self._lock:
            self._minute().errors += 1

    def flush(self, *, everything: bool = False) -> None:
        with self._lock:
            current = self._current
            if current is not None and (everything or current.minute != minute_now()):
                self._current = None
                self._hand_over(current)

    def _hand_over(self, summary: MinuteSummary) -> None:
        try:
            self._sink(summary)
        except Exception as exc:
            logger.warning("Could not hand over prediction statistics: %s", exc)

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="mltrail-monitor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.flush(everything=True)

    def _run(self) -> None:
        while not self._stop.wait(FLUSH_SECONDS):
            self.flush()


def summary_metrics(summary: MinuteSummary, *, step: int) -> list[Metric]:
    from mltrail.entities import Metric

    timestamp = (summary.minute + 1) * 60_000
    values: dict[str, float] = {
        "serving/requests": float(summary.requests),
        "serving/rows": float(summary.rows),
        "serving/errors": float(summary.errors),
    }
    for name, sample in sorted(summary.samples.items()):
        if not len(sample):
            continue
        array = sample
        values[f"{name}/mean"] = float(array.mean())
        for label, q in QUANTILES.items():
            values[f"{name}/{label}"] = float(np.quantile(array, q))
        values[f"{name}/count"] = float(summary.seen.get(name, len(sample)))
    return [Metric(key=k, value=v, timestamp=timestamp, step=step) for k, v in values.items()]


class RunLogger:
    """Logs finished minutes to one run; merges minutes that several workers send."""

    def __init__(self, client: TrackingClient, run_id: str, *, started_minute: int) -> None:
        self._client = client
        self.run_id = run_id
        self._started = started_minute
        self._pending: dict[int, MinuteSummary] = {}
        self._rng = np.random.default_rng()
        self._lock = threading.Lock()

    def add(self, summary: MinuteSummary) -> None:
        with self._lock:
            pending = self._pending.get(summary.minute)
            if pending is None:
                self._pending[summary.minute] = summary
            else:
                pending.merge(summary, self._rng)

    def log_finished(self, *, grace_minutes: int = 1, everything: bool = False) -> None:
        """Log the minutes that no worker can add to any more."""
        horizon = minute_now() - grace_minutes
        with self._lock:
            ready = sorted(m for m in self._pending if everything or m < horizon)
            summaries = [self._pending.pop(m) for m in ready]
        for summary in summaries:
            try:
                self._client.log_batch(
                    self.run_id,
                    metrics=summary_metrics(summary, step=summary.minute - self._started),
                )
            except Exception as exc:
                logger.warning(
                    "Could not log prediction statistics to run %s: %s", self.run_id, exc
                )


class QueueSink:
    """A worker's sink: finished minutes go to the supervisor through a multiprocessing queue."""

    def __init__(self, channel: Any) -> None:
        self._channel = channel

    def __call__(self, summary: MinuteSummary) -> None:
        self._channel.put(summary)


def drain(channel: Any, logger_: RunLogger, stop: threading.Event) -> None:
    """The supervisor's loop: collect workers' minutes, log the finished ones."""
    while not stop.is_set():
        try:
            logger_.add(channel.get(timeout=FLUSH_SECONDS))
        except queue.Empty:
            pass
        except (EOFError, OSError):
            return
        logger_.log_finished()


def start_monitoring_run(
    client: TrackingClient,
    *,
    experiment: str | None,
    model_uri: str,
    model_label: str,
    run_id_of_model: str | None,
) -> str:
    """A run for the statistics, in ``experiment`` or else beside the model's training run."""
    experiment_id = None
    if experiment:
        found = client.get_experiment_by_name(experiment)
        experiment_id = (
            found.experiment_id if found is not None else client.create_experiment(experiment)
        )
    elif run_id_of_model:
        try:
            experiment_id = client.get_run(run_id_of_model).info.experiment_id
        except Exception as exc:
            logger.warning(
                "The model's run %s is not readable (%s); using experiment 'serving'",
                run_id_of_model,
                exc,
            )
    if experiment_id is None:
        found = client.get_experiment_by_name("serving")
        experiment_id = (
            found.experiment_id if found is not None else client.create_experiment("serving")
        )
    run = client.create_run(
        str(experiment_id),
        run_name=f"serving {model_label}",
        tags={"mltrail.serving.model_uri": model_uri, "mltrail.serving.model": model_label},
    )
    return run.info.run_id
