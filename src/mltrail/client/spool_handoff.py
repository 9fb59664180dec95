"""Handing batches and run ends to the offline spool while a server is down, and replaying them.

When a tracking server cannot be reached (or answers 5xx/429) past the backend's retry
budget, the batch goes, with its idempotency key, to the run's offline spool
(:mod:`mltrail.client.spool`): while the server is down new batches go straight to the
spool, and every ``PROBE_INTERVAL_S`` the sender replays the spool; once a replay goes
through, normal sending resumes.

Artifacts and models the server cannot take go to the same spool file
(:meth:`SpoolHandoff.files_spool`, installed as :mod:`mltrail.client.artifact_spool`'s
keeper) and are uploaded after the run's batches. The end of a run (status, end time) that
the server cannot take goes there too (:meth:`SpoolHandoff.end_run`), and is replayed
last, so a run whose server was down when it ended does not stay RUNNING and is not shown
finished before its values and files are in.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mltrail.client.batch_requests import is_offline, is_transient, spool_uri
from mltrail.client.batch_stats import StatsBook
from mltrail.entities import Param, RunStatus, RunTag
from mltrail.errors import MltrailError
from mltrail.tracking_api import TrackingAPI
from mltrail.wire import MetricColumns, point_count

if TYPE_CHECKING:
    from mltrail.client.spool import Spool

logger = logging.getLogger(__name__)

PROBE_INTERVAL_S = 2.0


class SpoolHandoff:
    """The spools this process writes, the servers found down, and their replay."""

    def __init__(
        self,
        *,
        stats: StatsBook,
        keep: Callable[[str, BaseException], None],
        closed: Callable[[], bool],
    ) -> None:
        self._stats = stats
        self._keep = keep
        self._closed = closed
        self.spool_dir: str | None = None
        # Spools this process writes, by (uri, run_id), with the backend that replays them.
        self._spools: dict[tuple[str, str], tuple[TrackingAPI, Spool]] = {}
        self._spools_lock = threading.RLock()
        # Server URIs found unreachable -> monotonic time of the next replay attempt.
        self.down: dict[str, float] = {}
        self._warned: set[str] = set()

    def spool_for(self, backend: TrackingAPI, uri: str, run_id: str) -> Spool:
        with self._spools_lock:
            found = self._spools.get((uri, run_id))
            if found is not None:
                return found[1]
            from mltrail.client.spool import Spool, spool_path

            directory = self.directory(backend)
            spool = Spool(spool_path(directory, run_id=run_id, tracking_uri=uri))
            spool.set_meta("tracking_uri", uri)
            spool.set_meta("run_id", run_id)
            self._spools[(uri, run_id)] = (backend, spool)
            return spool

    def files_spool(
        self, backend: TrackingAPI, uri: str, run_id: str, cause: BaseException
    ) -> Spool:
        """The spool that keeps a run's artifacts and models the server could not take."""
        spool = self.spool_for(backend, uri, run_id)
        if not self._closed():
            self.mark_down(uri, cause)
        return spool

    def directory(self, backend: TrackingAPI) -> Path:
        from mltrail.client.spool import spool_directory
        from mltrail.config import load_settings

        if self.spool_dir:
            return Path(self.spool_dir)
        settings = getattr(backend, "settings", None)
        return spool_directory(settings if settings is not None else load_settings())

    def spool(
        self,
        backend: TrackingAPI,
        run_id: str,
        *,
        key: str,
        metrics: MetricColumns,
        params: Sequence[Param],
        tags: Sequence[RunTag],
    ) -> None:
        uri = spool_uri(backend)
        if uri is None:
            return
        try:
            spool = self.spool_for(backend, uri, run_id)
            if spool.append(idempotency_key=key, metrics=metrics, params=params, tags=tags):
                self._stats.of(run_id).spooled += point_count(metrics)
        except Exception as exc:  # a full or read-only disk: the batch is lost, say so
            self._keep(run_id, exc)

    def mark_down(self, uri: str, exc: BaseException) -> None:
        self.down[uri] = time.monotonic() + PROBE_INTERVAL_S
        if uri not in self._warned:
            self._warned.add(uri)
            logger.warning(
                "mltrail: the tracking server %s cannot take logging now (%s); logging "
                "continues into the offline spool, which is sent when the server is back",
                uri,
                exc,
            )

    def probe(self) -> None:
        """Replay the spools of servers marked down whose next attempt is due."""
        now = time.monotonic()
        for uri, due in list(self.down.items()):
            if due > now:
                continue
            if self.replay(uri):
                self.down.pop(uri, None)
                self._warned.discard(uri)
                logger.warning("mltrail: the tracking server %s is back; spool sent", uri)
            else:
                self.down[uri] = time.monotonic() + PROBE_INTERVAL_S

    def replay(self, uri: str) -> bool:
        """Send this process's spooled batches for ``uri``; True when all went through."""
        from mltrail.client.sync import send_spooled_batch

        with self._spools_lock:
            mine = [(k, v) for k, v in self._spools.items() if k[0] == uri]
        for (_, run_id), (backend, spool) in mine:
            stats = self._stats.of(run_id)
            for batch in spool.batches():
                try:
                    send_spooled_batch(backend, run_id, batch)
                except MltrailError as exc:
                    if is_transient(exc):
                        return False
                    # The server refuses this batch for good: keep the error, drop the batch.
                    self._keep(run_id, exc)
                spool.remove(batch.idempotency_key)
                stats.acknowledged += batch.points
                stats.replayed += batch.points
            if not self._replay_files(backend, run_id, spool):
                return False
            if not self._replay_end(backend, run_id, spool):
                return False
            with self._spools_lock:
                if spool.is_empty():
                    self._spools.pop((uri, run_id), None)
                    spool.close_and_remove_if_empty()
        return True

    def _replay_files(self, backend: TrackingAPI, run_id: str, spool: Spool) -> bool:
        """Upload the run's kept artifacts and models; False if the server is down."""
        from mltrail.client.artifact_spool import send_kept_files
        from mltrail.client.sync import backend_settings

        try:
            send_kept_files(
                backend,
                run_id,
                spool,
                settings=backend_settings(backend),
                # Refused for good: the files stay for `mltrail sync` to report.
                refused=lambda _entry, exc: self._keep(run_id, exc),
            )
        except MltrailError:  # only errors that say the server cannot take them now
            return False
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
            if is_transient(exc):
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
        uri = spool_uri(backend)
        if uri is None or is_offline(backend):
            backend.update_run(run_id, status=status, end_time=end_time)
            return
        with self._spools_lock:
            behind = (uri, run_id) in self._spools
        if uri not in self.down and not behind:
            try:
                backend.update_run(run_id, status=status, end_time=end_time)
                return
            except MltrailError as exc:
                if not is_transient(exc):
                    raise
                if not self._closed():
                    self.mark_down(uri, exc)
        self._spool_end(
            backend, uri, run_id, {"status": RunStatus.parse(status).value, "end_time": end_time}
        )

    def _spool_end(
        self, backend: TrackingAPI, uri: str, run_id: str, update: dict[str, Any]
    ) -> None:
        spool = self.spool_for(backend, uri, run_id)
        spool.set_meta("update", update)
        if not self._closed():
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

    # -- interpreter exit --------------------------------------------------------------
    def report(self) -> tuple[int, int, int, int, list[str]]:
        """(points, batches, artifacts and models, run ends, files) this process left in
        spools."""
        points = batches = uploads = ends = 0
        files: list[str] = []
        with self._spools_lock:
            for _, spool in self._spools.values():
                b, p = spool.counts()
                u = spool.file_counts()[0]
                end = spool.get_meta("update") is not None
                if b or u or end:
                    batches += b
                    points += p
                    uploads += u
                    ends += end
                    files.append(str(spool.path))
        return points, batches, uploads, ends, files

    def close_all(self) -> None:
        with self._spools_lock:
            # Closing checkpoints the WAL: the spool is then one self-contained file.
            for _, spool in self._spools.values():
                spool.close()
            self._spools.clear()
