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

When a tracking server cannot be reached (or answers 5xx/429) past the backend's retry
budget, the batch goes, with its idempotency key, to the run's offline spool
(:mod:`mltrail.client.spool`) and the queue keeps taking values: while the server is
down new batches go straight to the spool, and every ``PROBE_INTERVAL_S`` the sender
replays the spool; once a replay goes through, normal sending resumes. At interpreter
exit the queue waits at most ``flush_timeout`` seconds, spools what is left (also the
batch being sent, under the key it is being sent with) and says on stderr how many
points went to the spool and how to upload them (``mltrail sync``).

The end of a run (status, end time) that the server cannot take goes to the run's spool
file too (:meth:`BatchQueue.end_run`), and is replayed after the run's batches, so a run
whose server was down when it ended does not stay RUNNING.

Once a server has taken a first batch, a background thread uploads the spool files that
earlier processes left for that server (:func:`mltrail.client.sync.replay_leftovers`),
skipping files a live process holds; the training loop never waits for it.

Per run the queue counts the metric points it accepted, sent, had acknowledged and
spooled: :func:`run_stats`.
"""

from __future__ import annotations

import atexit
import gc
import logging
import os
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mltrail.entities import Metric, Param, RunStatus, RunTag
from mltrail.errors import (
    ConnectionFailed,
    MltrailError,
    StorageFull,
    TemporarilyUnavailable,
    TooManyRequests,
)
from mltrail.tracking_api import TrackingAPI

if TYPE_CHECKING:
    from mltrail.client.spool import Spool

logger = logging.getLogger(__name__)

METRIC = 0
PARAM = 1
TAG = 2
_MARKER = 3

# MLflow's per-request limit for params and tags, which servers (ours included) enforce.
MAX_PARAMS_TAGS_PER_BATCH = 100
# StorageFull (507): the server's disk is full; like 503 it passes once space is freed.
_TRANSIENT = (TemporarilyUnavailable, ConnectionFailed, TooManyRequests, StorageFull)
_IDLE_WAIT = 0.05
PROBE_INTERVAL_S = 2.0


@dataclass
class _Pending:
    metrics: list[Metric] = field(default_factory=list)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    # Each request cut from this batch gets ``<key>-p<n>`` or ``<key>-m``: the exit path can
    # then spool an in-flight batch under the very keys the sender is using.
    key: str = field(default_factory=lambda: uuid.uuid4().hex)


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


def _is_transient(exc: BaseException) -> bool:
    # A bare MltrailError is what an unclassified 5xx answer (502, 504, a proxy's page)
    # turns into; like 503 and 429 it says nothing about the batch itself.
    return isinstance(exc, _TRANSIENT) or type(exc) is MltrailError


def _spool_uri(backend: TrackingAPI) -> str | None:
    """The tracking URI to spool under, for backends that talk to a server; else None."""
    if getattr(backend, "http", None) is None:
        return None
    uri = getattr(backend, "uri", None)
    return uri if isinstance(uri, str) else None


def _is_offline(backend: TrackingAPI) -> bool:
    return bool(getattr(getattr(backend, "http", None), "offline", False))


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
        self.spool_dir: str | None = None
        self._stats: dict[str, RunStats] = {}
        self._stats_lock = threading.Lock()
        # Spools this process writes, by (uri, run_id), with the backend that replays them.
        self._spools: dict[tuple[str, str], tuple[TrackingAPI, Spool]] = {}
        self._spools_lock = threading.RLock()
        # Server URIs found unreachable -> monotonic time of the next replay attempt.
        self._down: dict[str, float] = {}
        self._inflight: list[tuple[TrackingAPI, str, _Pending]] = []
        self._closed = False
        self._warned: set[str] = set()
        # Servers whose leftover spool files (of earlier processes) are being or were replayed.
        self._leftovers_checked: set[str] = set()
        self._replayers: list[threading.Thread] = []

    # -- producer side -----------------------------------------------------
    def put(self, item: tuple[Any, ...]) -> None:
        """Queue ``(kind, backend, run_id, key, value[, timestamp, step])``."""
        if item[0] == METRIC:
            self._stat(item[2]).accepted += 1
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
        self._items.clear()
        with self._errors_lock:
            self._errors.clear()

    # -- visibility ----------------------------------------------------------
    def _stat(self, run_id: str) -> RunStats:
        stats = self._stats.get(run_id)
        if stats is None:
            with self._stats_lock:
                stats = self._stats.setdefault(run_id, RunStats())
        return stats

    def stats(self, run_id: str) -> RunStats:
        """A copy of the counters of ``run_id`` (zeros for a run this process never logged)."""
        s = self._stat(run_id)
        return RunStats(s.accepted, s.sent, s.acknowledged, s.spooled, s.replayed)

    # -- sender side -------------------------------------------------------
    def _run(self) -> None:
        while True:
            if self._closed:
                return
            try:
                if self._down:
                    self._probe()
                if not self._items:
                    self._wake.wait(_IDLE_WAIT)
                    self._wake.clear()
                    continue
                self._drain_once()
            except BaseException as exc:  # the sender must never die
                logger.exception("mltrail background logging failed")
                self._keep("", exc)

    def _drain_once(self) -> None:
        pending: dict[tuple[int, str], tuple[TrackingAPI, _Pending]] = {}
        markers: list[threading.Event] = []
        # Building up to 10,000 Metric objects: pausing the cyclic GC meanwhile halves the
        # cost (each young-generation pass would also rescan the queue's pending tuples).
        # Only a pause started here is ended here.
        paused = gc.isenabled()
        if paused:
            gc.disable()
        try:
            self._take(pending, markers)
        finally:
            if paused:
                gc.enable()
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
        pending: dict[tuple[int, str], tuple[TrackingAPI, _Pending]],
        markers: list[threading.Event],
    ) -> int:
        """Move up to ``batch_max_points`` queued items into ``pending``; returns the count."""
        count = 0
        items = self._items
        while count < self.batch_max_points and not self._closed:
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
        return count

    def _send_pending(self, backend: TrackingAPI, run_id: str, batch: _Pending) -> None:
        for key, metrics, params, tags in _requests(batch):
            self._send(backend, run_id, key=key, metrics=metrics, params=params, tags=tags)

    def _send(
        self,
        backend: TrackingAPI,
        run_id: str,
        *,
        key: str,
        metrics: Sequence[Metric],
        params: Sequence[Param],
        tags: Sequence[RunTag],
    ) -> None:
        uri = _spool_uri(backend)
        if uri is not None and uri in self._down:
            # The server is down: do not spend a retry budget per batch, spool at once.
            self._spool(backend, run_id, key=key, metrics=metrics, params=params, tags=tags)
            return
        stats = self._stat(run_id)
        stats.sent += len(metrics)
        try:
            backend.log_batch(
                run_id, metrics=metrics, params=params, tags=tags, idempotency_key=key
            )
            if _is_offline(backend):
                stats.spooled += len(metrics)
            else:
                stats.acknowledged += len(metrics)
                if uri is not None and uri not in self._leftovers_checked:
                    self._start_leftover_replay(backend, uri)
        except MltrailError as exc:
            if _is_transient(exc) and uri is not None:
                self._mark_down(uri, exc)
                self._spool(backend, run_id, key=key, metrics=metrics, params=params, tags=tags)
                return
            if _is_transient(exc) or not _splittable(metrics, params, tags):
                self._keep(run_id, exc)
                return
            # Find the culprit: resend piece by piece, keeping each piece's own error.
            for piece in _pieces(metrics, params, tags):
                try:
                    send_batch(backend, run_id, **piece)
                    stats.acknowledged += len(piece.get("metrics", ()))
                except BaseException as piece_exc:
                    self._keep(run_id, piece_exc)
        except BaseException as exc:
            self._keep(run_id, exc)

    # -- the offline spool ---------------------------------------------------
    def _spool_for(self, backend: TrackingAPI, uri: str, run_id: str) -> Spool:
        with self._spools_lock:
            found = self._spools.get((uri, run_id))
            if found is not None:
                return found[1]
            from mltrail.client.spool import Spool, spool_path

            directory = self._spool_directory(backend)
            spool = Spool(spool_path(directory, run_id=run_id, tracking_uri=uri))
            spool.set_meta("tracking_uri", uri)
            spool.set_meta("run_id", run_id)
            self._spools[(uri, run_id)] = (backend, spool)
            return spool

    def _spool_directory(self, backend: TrackingAPI) -> Path:

        from mltrail.client.spool import spool_directory
        from mltrail.config import load_settings

        if self.spool_dir:
            return Path(self.spool_dir)
        settings = getattr(backend, "settings", None)
        return spool_directory(settings if settings is not None else load_settings())

    def _spool(
        self,
        backend: TrackingAPI,
        run_id: str,
        *,
        key: str,
        metrics: Sequence[Metric],
        params: Sequence[Param],
        tags: Sequence[RunTag],
    ) -> None:
        uri = _spool_uri(backend)
        if uri is None:
            return
        try:
            spool = self._spool_for(backend, uri, run_id)
            if spool.append(idempotency_key=key, metrics=metrics, params=params, tags=tags):
                self._stat(run_id).spooled += len(metrics)
        except Exception as exc:  # a full or read-only disk: the batch is lost, say so
            self._keep(run_id, exc)

    def _mark_down(self, uri: str, exc: BaseException) -> None:
        self._down[uri] = time.monotonic() + PROBE_INTERVAL_S
        if uri not in self._warned:
            self._warned.add(uri)
            logger.warning(
                "mltrail: the tracking server %s cannot take logging now (%s); logging "
                "continues into the offline spool, which is sent when the server is back",
                uri,
                exc,
            )

    def _probe(self) -> None:
        """Replay the spools of servers marked down whose next attempt is due."""
        now = time.monotonic()
        for uri, due in list(self._down.items()):
            if due > now:
                continue
            if self.replay(uri):
                self._down.pop(uri, None)
                self._warned.discard(uri)
                logger.warning("mltrail: the tracking server %s is back; spool sent", uri)
            else:
                self._down[uri] = time.monotonic() + PROBE_INTERVAL_S

    def replay(self, uri: str) -> bool:
        """Send this process's spooled batches for ``uri``; True when all went through."""
        with self._spools_lock:
            mine = [(k, v) for k, v in self._spools.items() if k[0] == uri]
        for (_, run_id), (backend, spool) in mine:
            stats = self._stat(run_id)
            for batch in spool.batches():
                try:
                    backend.log_batch(
                        run_id,
                        metrics=batch.metrics,
                        params=batch.params,
                        tags=batch.tags,
                        idempotency_key=batch.idempotency_key,
                    )
                except MltrailError as exc:
                    if _is_transient(exc):
                        return False
                    # The server refuses this batch for good: keep the error, drop the batch.
                    self._keep(run_id, exc)
                spool.remove(batch.idempotency_key)
                stats.acknowledged += len(batch.metrics)
                stats.replayed += len(batch.metrics)
            if not self._replay_end(backend, run_id, spool):
                return False
            with self._spools_lock:
                if spool.is_empty():
                    self._spools.pop((uri, run_id), None)
                    spool.close_and_remove_if_empty()
        return True

    def _replay_end(self, backend: TrackingAPI, run_id: str, spool: Spool) -> bool:
        """Send a run end kept in ``spool`` (after its batches); False if the server is down."""
        from mltrail.client.sync import send_run_end

        update = spool.get_meta("update")
        if update is None:
            return True
        try:
            send_run_end(backend, run_id, update)
        except MltrailError as exc:
            if _is_transient(exc):
                return False
            self._keep(run_id, exc)
        spool.delete_meta("update")
        return True

    # -- the end of a run ------------------------------------------------------------
    def end_run(
        self, backend: TrackingAPI, run_id: str, *, status: RunStatus, end_time: int
    ) -> None:
        """Record that ``run_id`` ended; when its server cannot take it, keep it in the spool.

        The end waits in the spool when the server is known to be down or the run still has
        batches there (so it is replayed after them), and also when sending it fails for a
        reason that says nothing about the run (unreachable, 5xx, 429, 507).
        """
        uri = _spool_uri(backend)
        if uri is None or _is_offline(backend):
            backend.update_run(run_id, status=status, end_time=end_time)
            return
        with self._spools_lock:
            behind = (uri, run_id) in self._spools
        if uri not in self._down and not behind:
            try:
                backend.update_run(run_id, status=status, end_time=end_time)
                return
            except MltrailError as exc:
                if not _is_transient(exc):
                    raise
                if not self._closed:
                    self._mark_down(uri, exc)
        self._spool_end(
            backend, uri, run_id, {"status": RunStatus.parse(status).value, "end_time": end_time}
        )

    def _spool_end(
        self, backend: TrackingAPI, uri: str, run_id: str, update: dict[str, Any]
    ) -> None:
        spool = self._spool_for(backend, uri, run_id)
        spool.set_meta("update", update)
        if not self._closed:
            logger.warning(
                "mltrail: the end of run %s (%s) is kept in the offline spool until the "
                "tracking server %s takes it",
                run_id,
                update["status"],
                uri,
            )
            return
        # Interpreter exit already closed the other spools: close this one and say so.
        with self._spools_lock:
            self._spools.pop((uri, run_id), None)
        spool.close()
        folder = os.path.dirname(spool.path)
        print(
            f"mltrail: the tracking server could not be reached; the end of run {run_id} "
            f"({update['status']}) was saved to the spool in {folder}. "
            f"Upload it with: mltrail sync --spool-dir {folder}",
            file=sys.stderr,
        )

    # -- spool files of earlier processes ------------------------------------------
    def _start_leftover_replay(self, backend: TrackingAPI, uri: str) -> None:
        self._leftovers_checked.add(uri)
        thread = threading.Thread(
            target=self._replay_leftovers,
            args=(backend, uri),
            name="mltrail-spool-replay",
            daemon=True,
        )
        self._replayers.append(thread)
        thread.start()

    def _replay_leftovers(self, backend: TrackingAPI, uri: str) -> None:
        from mltrail.client.sync import replay_leftovers

        try:
            report = replay_leftovers(
                self._spool_directory(backend),
                backend=backend,
                tracking_uri=uri,
                stop=lambda: self._closed,
            )
        except Exception as exc:  # a background helper: report, never raise into the void
            logger.warning("mltrail: could not replay spool files left for %s: %s", uri, exc)
            self._leftovers_checked.discard(uri)
            return
        if report.points or report.runs:
            logger.info(
                "mltrail: sent %d metric points of %d runs that earlier processes left in the "
                "spool for %s",
                report.points,
                len(report.runs),
                uri,
            )
        for path, message in report.failed:
            logger.warning("mltrail: spool file %s not sent: %s", path, message)
        if report.failed:
            # Try again after the next batch the server takes (or leave it to mltrail sync).
            self._leftovers_checked.discard(uri)

    def _join_replayers(self, timeout: float) -> None:
        deadline = time.monotonic() + max(0.0, timeout)
        for thread in list(self._replayers):
            thread.join(max(0.0, deadline - time.monotonic()))

    def spool_leftovers(self) -> int:
        """Spool what is queued or being sent (interpreter exit); returns the points spooled.

        Stops the sender first: from here on only this thread touches the queue.
        """
        self._closed = True
        self._wake.set()
        count = 0
        for backend, run_id, batch in list(self._inflight):
            count += self._spool_pending(backend, run_id, batch)
        leftovers: dict[tuple[int, str], tuple[TrackingAPI, _Pending]] = {}
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
            slot = leftovers.setdefault((id(backend), run_id), (backend, _Pending()))
            if kind == METRIC:
                slot[1].metrics.append(Metric(key, value, item[5], item[6]))
            elif kind == PARAM:
                slot[1].params.setdefault(key, value)
            else:
                slot[1].tags[key] = value
        for (_, run_id), (backend, batch) in leftovers.items():
            count += self._spool_pending(backend, run_id, batch)
        return count

    def _spool_pending(self, backend: TrackingAPI, run_id: str, batch: _Pending) -> int:
        if _spool_uri(backend) is None:
            return 0
        before = self._stat(run_id).spooled
        for key, metrics, params, tags in _requests(batch):
            self._spool(backend, run_id, key=key, metrics=metrics, params=params, tags=tags)
        return self._stat(run_id).spooled - before

    def spool_report(self) -> tuple[int, int, int, list[str]]:
        """(points, batches, run ends, files) that this process left in spools."""
        points = batches = ends = 0
        files: list[str] = []
        with self._spools_lock:
            for _, spool in self._spools.values():
                b, p = spool.counts()
                end = spool.get_meta("update") is not None
                if b or end:
                    batches += b
                    points += p
                    ends += end
                    files.append(str(spool.path))
        return points, batches, ends, files

    def _keep(self, run_id: str, exc: BaseException) -> None:
        with self._errors_lock:
            self._errors.append((run_id, exc))

    def _flush_at_exit(self) -> None:
        from mltrail.client import rest_http

        # One budget for the whole exit: requests made after this point (ending runs) stop
        # retrying at the deadline and never wait past it.
        rest_http.give_up_after(self.flush_timeout)
        try:
            self.flush(max(0.0, rest_http.time_left() or 0.0))
        except TemporarilyUnavailable:
            pass  # not drained in time: spooled below
        except BaseException as exc:  # report, never crash interpreter exit
            logger.error("mltrail: logging not completed at exit: %s", exc)
        # A replay of earlier processes' spools may finish within the budget; if not, what
        # it did not send stays in those files (sent again later under the same keys).
        self._join_replayers(rest_http.time_left() or 0.0)
        try:
            self.spool_leftovers()
            points, batches, ends, files = self.spool_report()
        except BaseException as exc:
            logger.error("mltrail: could not spool unsent values at exit: %s", exc)
            return
        with self._spools_lock:
            # Closing checkpoints the WAL: the spool is then one self-contained file.
            for _, spool in self._spools.values():
                spool.close()
            self._spools.clear()
        if batches or ends:
            folder = os.path.dirname(files[0])
            what = f"{points} metric points ({batches} batches)"
            if ends:
                what += f" and the end of {ends} run{'s' if ends > 1 else ''}"
            print(
                f"mltrail: the tracking server could not be reached; {what} were saved to the "
                f"spool in {folder}. Upload them with: mltrail sync --spool-dir {folder}",
                file=sys.stderr,
            )


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


def _requests(
    batch: _Pending,
) -> list[tuple[str, list[Metric], list[Param], list[RunTag]]]:
    """The requests a batch is sent as, each with its own key derived from the batch's."""
    params = [Param(k, v) for k, v in batch.params.items()]
    tags = [RunTag(k, v) for k, v in batch.tags.items()]
    size = MAX_PARAMS_TAGS_PER_BATCH
    out: list[tuple[str, list[Metric], list[Param], list[RunTag]]] = []
    for n, start in enumerate(range(0, max(len(params), len(tags)), size)):
        out.append(
            (f"{batch.key}-p{n}", [], params[start : start + size], tags[start : start + size])
        )
    if batch.metrics:
        out.append((f"{batch.key}-m", batch.metrics, [], []))
    return out


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


def run_stats(run_id: str) -> RunStats:
    """How many metric points of ``run_id`` this process accepted, sent, had acknowledged
    and spooled (see :class:`RunStats`)."""
    return get_queue().stats(run_id)


def _after_fork_in_child() -> None:
    # The sender thread does not survive fork; the child starts with an empty queue of its own.
    global _queue
    _queue = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
