"""Background logging: the training loop appends to a queue, one daemon thread sends batches.

The enqueue path is a single ``deque.append`` of a tuple (thread-safe without a lock in
CPython). The sender thread groups items by (backend, run), sends params and tags in one
``log_batch`` call and metrics in calls of up to ``batch_max_points`` points, each call
with an idempotency key of its own (:mod:`mltrail.client.batch_requests`); the backend's
retries of that call reuse the key, so a retried batch is applied once.

``flush()`` appends a marker and waits until the sender has passed it: every item queued
before the flush has then been sent (or has failed). Failures are kept per run and raised,
as the original typed error, by the next ``flush()`` (or ``end_run()``) that covers the run.
A batch that the backend rejects is retried item by item (metrics key by key), so one bad
param does not cost the rest of the batch.

A server that cannot take a batch gets it later from the offline spool
(:mod:`mltrail.client.spool_handoff`); once a server has taken a first batch, the spool
files earlier processes left for it are uploaded in the background
(:mod:`mltrail.client.leftover_replay`). Interpreter exit is bounded
(:mod:`mltrail.client.batch_exit`). Per run the queue counts the metric points it
accepted, sent, had acknowledged and spooled: :func:`run_stats`.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from collections import deque
from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any

from mltrail.client.artifact_spool import set_keeper
from mltrail.client.batch_exit import flush_at_exit
from mltrail.client.batch_requests import (
    Columns,
    Pending,
    is_offline,
    is_transient,
    pieces,
    point_count,
    requests,
    send_batch,
    splittable,
    spool_uri,
)
from mltrail.client.batch_stats import RunStats, StatsBook
from mltrail.client.leftover_replay import LeftoverReplayer
from mltrail.client.spool_handoff import SpoolHandoff
from mltrail.entities import Param, RunTag
from mltrail.errors import MltrailError, TemporarilyUnavailable
from mltrail.tracking_api import TrackingAPI
from mltrail.wire import gc_paused

logger = logging.getLogger(__name__)

METRIC = 0
PARAM = 1
TAG = 2
_MARKER = 3

_IDLE_WAIT = 0.05


class BatchQueue:
    """The per-process logging queue and its sender thread."""

    def __init__(self, *, batch_max_points: int = 10_000, flush_timeout: float = 5.0) -> None:
        self.batch_max_points = max(1, batch_max_points)
        self.flush_timeout = flush_timeout
        self._items: deque[tuple[Any, ...]] = deque()
        # Bound once: the hot path calls this directly.
        self.append: Callable[[tuple[Any, ...]], None] = self._items.append
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._errors: list[tuple[str, BaseException]] = []
        self._errors_lock = threading.Lock()
        self._atexit_registered = False
        self._stats = StatsBook()
        # Held while items leave the queue and are counted, so stats() sees each point
        # either still queued or counted, never both or neither.
        self._counting = threading.Lock()
        self._inflight: list[tuple[TrackingAPI, str, Pending]] = []
        self._closed = False
        self.spools = SpoolHandoff(stats=self._stats, keep=self._keep, closed=self._is_closed)
        self.leftovers = LeftoverReplayer(stop=self._is_closed, directory=self.spools.directory)

    def _is_closed(self) -> bool:
        return self._closed

    # -- producer side -----------------------------------------------------
    def put(self, item: tuple[Any, ...]) -> None:
        """Queue ``(kind, backend, run_id, key, value[, timestamp, step])``."""
        # Not counted here (the loop's hot path): points are counted as accepted when they
        # leave the queue, and stats() adds those still queued (see _counting).
        self._items.append(item)
        if self._thread is None:
            self.ensure_started()

    def ensure_started(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._start_lock:
            if self._thread is not None and self._thread.is_alive():
                return
            thread = threading.Thread(target=self._run, name="mltrail-batcher", daemon=True)
            thread.start()
            self._thread = thread
            if not self._atexit_registered:
                atexit.register(flush_at_exit, self)
                self._atexit_registered = True

    def pending(self) -> int:
        return len(self._items)

    def flush(self, timeout: float | None = None, *, run_id: str | None = None) -> None:
        """Wait until everything queued so far is sent; raise the first kept error.

        ``run_id`` limits the errors raised to those of one run (others stay kept).
        A timeout raises :class:`TemporarilyUnavailable`; what is queued stays queued.
        After interpreter exit began, what was left has been spooled: nothing to wait for.
        """
        if self._closed:
            self.raise_errors(run_id=run_id)
            return
        if self._items or self._thread is not None:
            self.ensure_started()
            done = threading.Event()
            self._items.append((_MARKER, done))
            self._wake.set()
            if not done.wait(timeout):
                raise TemporarilyUnavailable(
                    f"Logging queue not drained after {timeout} s "
                    f"({len(self._items)} items still queued; they are still being sent)"
                )
        self.raise_errors(run_id=run_id)

    def raise_errors(self, *, run_id: str | None = None) -> None:
        with self._errors_lock:
            mine = [e for r, e in self._errors if run_id is None or r == run_id]
            self._errors = [(r, e) for r, e in self._errors if run_id is not None and r != run_id]
        if not mine:
            return
        for extra in mine[1:]:
            logger.warning("Another background logging error: %s", extra)
        raise mine[0]

    def reset(self) -> None:
        """Drop queued items and kept errors (after fork, and between tests)."""
        with self._counting:
            for run_id, count in _metrics_per_run(self._snapshot()).items():
                self._stats.of(run_id).accepted += count
            self._items.clear()
        with self._errors_lock:
            self._errors.clear()

    def stats(self, run_id: str) -> RunStats:
        """A copy of the counters of ``run_id`` (zeros for a run this process never logged)."""
        with self._counting:
            queued = _metrics_per_run(self._snapshot()).get(run_id, 0)
            stats = self._stats.copy(run_id)
        stats.accepted += queued
        return stats

    def _snapshot(self) -> list[tuple[Any, ...]]:
        """The queued items now (producers may append meanwhile: copy again then)."""
        while True:
            try:
                return list(self._items.copy())
            except RuntimeError:  # mutated during the copy
                continue

    # -- sender side -------------------------------------------------------
    def _run(self) -> None:
        while True:
            if self._closed:
                return
            try:
                if self.spools.down:
                    self.spools.probe()
                if not self._items:
                    self._wake.wait(_IDLE_WAIT)
                    self._wake.clear()
                    continue
                self._drain_once()
            except BaseException as exc:  # the sender must never die
                logger.exception("mltrail background logging failed")
                self._keep("", exc)

    def _drain_once(self) -> None:
        pending: dict[tuple[int, str], tuple[TrackingAPI, Pending]] = {}
        markers: list[threading.Event] = []
        # Taking up to 10,000 items when they are not one run's metrics builds columns point
        # by point: pausing the cyclic GC meanwhile spares young-generation passes that would
        # rescan the queue's pending tuples. Only a pause started here is ended here.
        with gc_paused():
            self._take(pending, markers)
        self._inflight = [
            (backend, run_id, batch) for (_, run_id), (backend, batch) in pending.items()
        ]
        try:
            for backend, run_id, batch in self._inflight:
                self._send_pending(backend, run_id, batch)
        finally:
            self._inflight = []
        for marker in markers:
            marker.set()

    def _take(
        self,
        pending: dict[tuple[int, str], tuple[TrackingAPI, Pending]],
        markers: list[threading.Event],
    ) -> int:
        """Move up to ``batch_max_points`` queued items into ``pending``; returns the count."""
        with self._counting:
            return self._take_counted(pending, markers)

    def _take_counted(
        self,
        pending: dict[tuple[int, str], tuple[TrackingAPI, Pending]],
        markers: list[threading.Event],
    ) -> int:
        items = self._items
        n = min(len(items), self.batch_max_points)
        if n == 0 or self._closed:
            return 0
        # Only this thread pops (until exit closes the queue), so n items are there.
        popleft = items.popleft
        got = [popleft() for _ in range(n)]
        if set(map(_KIND, got)) == _ONLY_METRICS:
            # The usual case, columns built at C speed: one run's metrics, nothing else.
            _, backends, run_ids, keys, values, stamps, steps = zip(*got, strict=True)
            if run_ids.count(run_ids[0]) == n and backends.count(backends[0]) == n:
                batch = Pending(columns=_columns_of(keys, steps, stamps, values))
                pending[(id(backends[0]), run_ids[0])] = (backends[0], batch)
                self._stats.of(run_ids[0]).accepted += n
                return n
        building: dict[tuple[int, str], _Building] = {}
        count = 0
        for item in got:
            kind = item[0]
            if kind == _MARKER:
                markers.append(item[1])
                count += 1
                break
            backend, run_id, key, value = item[1], item[2], item[3], item[4]
            slot = pending.get((id(backend), run_id))
            if slot is None:
                slot = pending[(id(backend), run_id)] = (backend, Pending())
                building[(id(backend), run_id)] = {}
            batch = slot[1]
            if kind == METRIC:
                _add_point(building[(id(backend), run_id)], item)
            elif kind == PARAM:
                if batch.params.get(key, value) != value:
                    # Send the first value first, so the second one meets it and fails
                    # the way a synchronous call would.
                    break
                batch.params[key] = value
            else:
                batch.tags[key] = value
            count += 1
        if count < n:
            # Back to the front, in order: the rest waits for the next round.
            items.extendleft(reversed(got[count:]))
        for slot_key, cols in building.items():
            pending[slot_key][1].columns.update(cols)
            self._stats.of(slot_key[1]).accepted += point_count(cols)
        return count

    def _send_pending(self, backend: TrackingAPI, run_id: str, batch: Pending) -> None:
        for key, columns, params, tags in requests(batch):
            self._send(backend, run_id, key=key, columns=columns, params=params, tags=tags)

    def _send(
        self,
        backend: TrackingAPI,
        run_id: str,
        *,
        key: str,
        columns: Columns,
        params: Sequence[Param],
        tags: Sequence[RunTag],
    ) -> None:
        uri = spool_uri(backend)
        if uri is not None and uri in self.spools.down:
            # The server is down: do not spend a retry budget per batch, spool at once.
            self.spools.spool(backend, run_id, key=key, metrics=columns, params=params, tags=tags)
            return
        stats = self._stats.of(run_id)
        points = point_count(columns)
        stats.sent += points
        try:
            backend.log_batch(
                run_id, metrics=columns, params=params, tags=tags, idempotency_key=key
            )
            if is_offline(backend):
                stats.spooled += points
            else:
                stats.acknowledged += points
                if uri is not None and not self.leftovers.is_checked(uri):
                    self.leftovers.start(backend, uri)
        except MltrailError as exc:
            if is_transient(exc) and uri is not None:
                self.spools.mark_down(uri, exc)
                self.spools.spool(
                    backend, run_id, key=key, metrics=columns, params=params, tags=tags
                )
                return
            if is_transient(exc) or not splittable(columns, params, tags):
                self._keep(run_id, exc)
                return
            # Find the culprit: resend piece by piece, keeping each piece's own error.
            for piece in pieces(columns, params, tags):
                try:
                    send_batch(backend, run_id, **piece)
                    stats.acknowledged += point_count(piece.get("metrics", {}))
                except BaseException as piece_exc:
                    self._keep(run_id, piece_exc)
        except BaseException as exc:
            self._keep(run_id, exc)

    def spool_leftovers(self) -> int:
        """Spool what is queued or being sent (interpreter exit); returns the points spooled.

        Stops the sender first: from here on only this thread touches the queue.
        """
        self._closed = True
        self._wake.set()
        count = 0
        for backend, run_id, batch in list(self._inflight):
            count += self._spool_pending(backend, run_id, batch)
        leftovers: dict[tuple[int, str], tuple[TrackingAPI, Pending]] = {}
        building: dict[tuple[int, str], _Building] = {}
        with self._counting:
            while True:
                try:
                    item = self._items.popleft()
                except IndexError:
                    break
                kind = item[0]
                if kind == _MARKER:
                    item[1].set()
                    continue
                backend, run_id, key, value = item[1], item[2], item[3], item[4]
                slot = leftovers.setdefault((id(backend), run_id), (backend, Pending()))
                if kind == METRIC:
                    _add_point(building.setdefault((id(backend), run_id), {}), item)
                elif kind == PARAM:
                    slot[1].params.setdefault(key, value)
                else:
                    slot[1].tags[key] = value
            for slot_key, cols in building.items():
                leftovers[slot_key][1].columns.update(cols)
                self._stats.of(slot_key[1]).accepted += point_count(cols)
        for (_, run_id), (backend, batch) in leftovers.items():
            count += self._spool_pending(backend, run_id, batch)
        return count

    def _spool_pending(self, backend: TrackingAPI, run_id: str, batch: Pending) -> int:
        if spool_uri(backend) is None:
            return 0
        before = self._stats.of(run_id).spooled
        for key, columns, params, tags in requests(batch):
            self.spools.spool(backend, run_id, key=key, metrics=columns, params=params, tags=tags)
        return self._stats.of(run_id).spooled - before

    def _keep(self, run_id: str, exc: BaseException) -> None:
        with self._errors_lock:
            self._errors.append((run_id, exc))


# Per run while taking items: key -> (steps, timestamps, values) being filled.
_Building = dict[str, tuple[list[int], list[int], list[float]]]
_KIND = itemgetter(0)
_ONLY_METRICS = {METRIC}


def _metrics_per_run(items: list[tuple[Any, ...]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in items:
        if item[0] == METRIC:
            counts[item[2]] = counts.get(item[2], 0) + 1
    return counts


def _add_point(building: _Building, item: tuple[Any, ...]) -> None:
    col = building.get(item[3])
    if col is None:
        col = building[item[3]] = ([], [], [])
    col[0].append(item[6])
    col[1].append(item[5])
    col[2].append(item[4])


def _columns_of(
    keys: tuple[str, ...],
    steps: tuple[int, ...],
    stamps: tuple[int, ...],
    values: tuple[float, ...],
) -> Columns:
    """Points grouped by key, each key's points in queue order."""
    period = len(set(keys))
    if keys[period:] == keys[:-period]:
        # The keys repeat in a fixed cycle (a loop logging the same metrics at every step):
        # each key's column is a strided slice, no per-point work.
        return {
            keys[j]: (steps[j::period], stamps[j::period], values[j::period]) for j in range(period)
        }
    building: _Building = {}
    for key, step, stamp, value in zip(keys, steps, stamps, values, strict=True):
        col = building.get(key)
        if col is None:
            col = building[key] = ([], [], [])
        col[0].append(step)
        col[1].append(stamp)
        col[2].append(value)
    return dict(building)


_queue: BatchQueue | None = None
_queue_lock = threading.Lock()


def get_queue() -> BatchQueue:
    """The process's logging queue (created with the current settings on first use)."""
    global _queue
    if _queue is None:
        with _queue_lock:
            if _queue is None:
                from mltrail.config import load_settings

                settings = load_settings()
                _queue = BatchQueue(
                    batch_max_points=settings.batch_max_points,
                    flush_timeout=settings.flush_timeout,
                )
                # Artifacts the server cannot take join the spool this queue replays.
                set_keeper(_queue.spools.files_spool)
    return _queue


def run_stats(run_id: str) -> RunStats:
    """How many metric points of ``run_id`` this process accepted, sent, had acknowledged
    and spooled (see :class:`RunStats`)."""
    return get_queue().stats(run_id)


def _after_fork_in_child() -> None:
    # The sender thread does not survive fork; the child starts with an empty queue of its own.
    global _queue
    _queue = None
    set_keeper(None)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
