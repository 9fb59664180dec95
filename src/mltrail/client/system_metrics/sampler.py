"""The sampler thread of one run: sample every ``interval`` seconds, average ``window``
samples into one point per metric, and hand the points to the logging queue.

The step of a point is its index (0, 1, 2, ...), as in MLflow. Gauges (utilisation, memory
in use) are averaged over the window; totals (network and disk bytes since sampling
started) take the last sample. Stopping wakes the thread at once: it takes one last
sample and logs what it holds, so even a run shorter than the interval gets a point.
A collector that fails is dropped with one warning; the thread never raises.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Protocol

logger = logging.getLogger("mltrail.system_metrics")

Publish = Callable[[dict[str, float], int], None]


class Collector(Protocol):
    name: str

    def gauges(self) -> dict[str, float]: ...

    def totals(self) -> dict[str, float]: ...


class Sampler:
    def __init__(
        self,
        collectors: Sequence[Collector],
        *,
        publish: Publish,
        interval: float,
        window: int = 1,
        first_step: int = 0,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self._collectors = list(collectors)
        self._publish = publish
        self.interval = interval
        self.window = max(1, window)
        self.step = first_step
        self._on_close = on_close
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sums: dict[str, float] = {}
        self._counts: dict[str, int] = {}
        self._latest: dict[str, float] = {}
        self._taken = 0
        # CPU seconds spent by the sampler thread itself (what the benchmark reports).
        self.cpu_seconds = 0.0
        self.samples = 0

    def start(self) -> None:
        thread = threading.Thread(target=self._run, name="mltrail-system-metrics", daemon=True)
        self._thread = thread
        thread.start()

    def stop(self, timeout: float | None = 5.0) -> None:
        """Take a last sample, log what is held and end the thread (waits up to ``timeout``)."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                self._timed(self._sample_and_maybe_publish)
            self._timed(self._final)
        except BaseException:  # never let a sampler error reach the training process
            logger.exception("mltrail: system metrics sampling stopped")
        finally:
            if self._on_close is not None:
                self._on_close()

    def _timed(self, work: Callable[[], None]) -> None:
        start = time.thread_time()
        work()
        self.cpu_seconds += time.thread_time() - start

    def _sample_and_maybe_publish(self) -> None:
        self._sample()
        if self._taken >= self.window:
            self._flush()

    def _final(self) -> None:
        self._sample()
        self._flush()

    def _sample(self) -> None:
        for collector in list(self._collectors):
            try:
                gauges = collector.gauges()
                totals = collector.totals()
            except Exception as exc:
                self._collectors.remove(collector)
                logger.warning(
                    "mltrail: no more %s system metrics for this run (%s: %s)",
                    collector.name,
                    type(exc).__name__,
                    exc,
                )
                continue
            for key, value in gauges.items():
                self._sums[key] = self._sums.get(key, 0.0) + value
                self._counts[key] = self._counts.get(key, 0) + 1
            self._latest.update(totals)
        self._taken += 1
        self.samples += 1

    def _flush(self) -> None:
        if not self._taken:
            return
        point = {key: total / self._counts[key] for key, total in self._sums.items()}
        point.update(self._latest)
        self._sums.clear()
        self._counts.clear()
        self._latest.clear()
        self._taken = 0
        if point:
            self._publish(point, self.step)
            self.step += 1
