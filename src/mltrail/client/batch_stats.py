"""Per-run counters of metric points kept by the logging queue (:func:`mltrail.run_stats`)."""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass
class RunStats:
    """Metric points of one run, as seen by this process's logging queue.

    ``accepted``: queued by log calls; ``sent``: put in requests to the backend;
    ``acknowledged``: applied by the backend (replays from the spool included);
    ``spooled``: written to the offline spool; ``replayed``: spooled points later
    acknowledged. ``spooled - replayed`` points wait in the spool for ``mltrail sync``.
    """

    accepted: int = 0
    sent: int = 0
    acknowledged: int = 0
    spooled: int = 0
    replayed: int = 0

    @property
    def in_spool(self) -> int:
        return self.spooled - self.replayed


class StatsBook:
    """The live counters of every run this process logged to."""

    def __init__(self) -> None:
        self._stats: dict[str, RunStats] = {}
        self._lock = threading.Lock()

    def of(self, run_id: str) -> RunStats:
        """The live counters of ``run_id`` (created at zero on first use)."""
        stats = self._stats.get(run_id)
        if stats is None:
            with self._lock:
                stats = self._stats.setdefault(run_id, RunStats())
        return stats

    def copy(self, run_id: str) -> RunStats:
        """A copy of the counters of ``run_id`` (zeros for a run this process never logged)."""
        s = self.of(run_id)
        return RunStats(s.accepted, s.sent, s.acknowledged, s.spooled, s.replayed)
