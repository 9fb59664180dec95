"""Background logging: the training loop appends to a queue, one daemon thread sends batches.

The enqueue path is a single ``deque.append`` of a tuple (thread-safe without a lock in
CPython). The sender thread groups items by (backend, run), sends params and tags in one
``log_batch`` call and metrics in calls of up to ``batch_max_points`` points, each call
with an idempotency key of its own; the backend's retries of that call reuse the key, so
a retried batch is applied once.

``flush()`` appends a marker and waits until the sender has passed it: every item queued
before the flush has then been sent (or has failed). Failures are kept per run and raised,
as the original typed error, by the next ``flush()`` (or ``end_run()``) that covers the run.
A batch that the backend rejects is retried item by item (metrics key by key), so one bad
param does not cost the rest of the batch.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from mltrail.entities import Metric, Param, RunTag
from mltrail.errors import (
    ConnectionFailed,
    MltrailError,
    TemporarilyUnavailable,
    TooManyRequests,
)
from mltrail.tracking_api import TrackingAPI

logger = logging.getLogger(__name__)

METRIC = 0
PARAM = 1
TAG = 2
_MARKER = 3

# MLflow's per-request limit for params and tags, which servers (ours included) enforce.
MAX_PARAMS_TAGS_PER_BATCH = 100
_TRANSIENT = (TemporarilyUnavailable, ConnectionFailed, TooManyRequests)
_IDLE_WAIT = 0.05


@dataclass
class _Pending:
    metrics: list[Metric] = field(default_factory=list)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


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

    # -- producer side -----------------------------------------------------
    def put(self, item: tuple[Any, ...]) -> None:
        """Queue ``(kind, backend, run_id, key, value[, timestamp, step])``."""
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
                atexit.register(self._flush_at_exit)
                self._atexit_registered = True

    def pending(self) -> int:
        return len(self._items)

    def flush(self, timeout: float | None = None, *, run_id: str | None = None) -> None:
        """Wait until everything queued so far is sent; raise the first kept error.

        ``run_id`` limits the errors raised to those of one run (others stay kept).
        A timeout raises :class:`TemporarilyUnavailable`; what is queued stays queued.
        """
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
        self._items.clear()
        with self._errors_lock:
            self._errors.clear()

    # -- sender side -------------------------------------------------------
    def _run(self) -> None:
        while True:
            if not self._items:
                self._wake.wait(_IDLE_WAIT)
                self._wake.clear()
                continue
            try:
                self._drain_once()
            except BaseException as exc:  # the sender must never die
                logger.exception("mltrail background logging failed")
                self._keep("", exc)

    def _drain_once(self) -> None:
        pending: dict[tuple[int, str], tuple[TrackingAPI, _Pending]] = {}
        markers: list[threading.Event] = []
        count = 0
        items = self._items
        while count < self.batch_max_points:
            try:
                item = items.popleft()
            except IndexError:
                break
            kind = item[0]
            if kind == _MARKER:
                markers.append(item[1])
                break
            backend, run_id, key, value = item[1], item[2], item[3], item[4]
            slot = pending.get((id(backend), run_id))
            if slot is None:
                slot = pending[(id(backend), run_id)] = (backend, _Pending())
            batch = slot[1]
            if kind == METRIC:
                batch.metrics.append(Metric(key, value, item[5], item[6]))
            elif kind == PARAM:
                if batch.params.get(key, value) != value:
                    # Send the first value first, so the second one meets it and fails
                    # the way a synchronous call would.
                    items.appendleft(item)
                    break
                batch.params[key] = value
            else:
                batch.tags[key] = value
            count += 1
        for (_, run_id), (backend, batch) in pending.items():
            self._send_pending(backend, run_id, batch)
        for marker in markers:
            marker.set()

    def _send_pending(self, backend: TrackingAPI, run_id: str, batch: _Pending) -> None:
        params = [Param(k, v) for k, v in batch.params.items()]
        tags = [RunTag(k, v) for k, v in batch.tags.items()]
        size = MAX_PARAMS_TAGS_PER_BATCH
        for start in range(0, max(len(params), len(tags)), size):
            self._send(
                backend,
                run_id,
                metrics=(),
                params=params[start : start + size],
                tags=tags[start : start + size],
            )
        if batch.metrics:
            self._send(backend, run_id, metrics=batch.metrics, params=(), tags=())

    def _send(
        self,
        backend: TrackingAPI,
        run_id: str,
        *,
        metrics: Sequence[Metric],
        params: Sequence[Param],
        tags: Sequence[RunTag],
    ) -> None:
        try:
            send_batch(backend, run_id, metrics=metrics, params=params, tags=tags)
        except MltrailError as exc:
            if isinstance(exc, _TRANSIENT) or not _splittable(metrics, params, tags):
                self._keep(run_id, exc)
                return
            # Find the culprit: resend piece by piece, keeping each piece's own error.
            for piece in _pieces(metrics, params, tags):
                try:
                    send_batch(backend, run_id, **piece)
                except BaseException as piece_exc:
                    self._keep(run_id, piece_exc)
        except BaseException as exc:
            self._keep(run_id, exc)

    def _keep(self, run_id: str, exc: BaseException) -> None:
        with self._errors_lock:
            self._errors.append((run_id, exc))

    def _flush_at_exit(self) -> None:
        try:
            self.flush(self.flush_timeout)
        except BaseException as exc:  # report, never crash interpreter exit
            logger.error("mltrail: logging not completed at exit: %s", exc)


def send_batch(
    backend: TrackingAPI,
    run_id: str,
    *,
    metrics: Sequence[Metric] = (),
    params: Sequence[Param] = (),
    tags: Sequence[RunTag] = (),
) -> None:
    """One ``log_batch`` call with a fresh idempotency key.

    Backends own their retries (the SQL store retries locked writes, the REST backend
    retries the network with this same key), so a transient error here is final.
    """
    backend.log_batch(
        run_id, metrics=metrics, params=params, tags=tags, idempotency_key=uuid.uuid4().hex
    )


def _splittable(metrics: Sequence[Metric], params: Sequence[Param], tags: Sequence[RunTag]) -> bool:
    if metrics:
        return len({m.key for m in metrics}) > 1
    return len(params) + len(tags) > 1


def _pieces(
    metrics: Sequence[Metric], params: Sequence[Param], tags: Sequence[RunTag]
) -> list[dict[str, Any]]:
    if metrics:
        by_key: dict[str, list[Metric]] = {}
        for m in metrics:
            by_key.setdefault(m.key, []).append(m)
        return [{"metrics": group} for group in by_key.values()]
    return [{"params": [p]} for p in params] + [{"tags": [t]} for t in tags]


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
    return _queue


def _after_fork_in_child() -> None:
    # The sender thread does not survive fork; the child starts with an empty queue of its own.
    global _queue
    _queue = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
