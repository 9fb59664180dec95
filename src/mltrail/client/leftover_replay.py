"""Background upload of spool files that earlier processes left for a server.

Once a server has taken a first batch, a daemon thread uploads the spool files that
earlier processes left for that server (:func:`mltrail.client.sync.replay_leftovers`),
skipping files a live process holds; the training loop never waits for it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from mltrail.tracking_api import TrackingAPI

logger = logging.getLogger(__name__)


class LeftoverReplayer:
    """Starts one replay per server URI (again after a replay that left files unsent)."""

    def __init__(
        self, *, stop: Callable[[], bool], directory: Callable[[TrackingAPI], Path]
    ) -> None:
        self._stop = stop
        self._directory = directory
        # Servers whose leftover spool files (of earlier processes) are being or were replayed.
        self._checked: set[str] = set()
        self._threads: list[threading.Thread] = []

    def is_checked(self, uri: str) -> bool:
        return uri in self._checked

    def start(self, backend: TrackingAPI, uri: str) -> None:
        self._checked.add(uri)
        thread = threading.Thread(
            target=self._replay,
            args=(backend, uri),
            name="mltrail-spool-replay",
            daemon=True,
        )
        self._threads.append(thread)
        thread.start()

    def _replay(self, backend: TrackingAPI, uri: str) -> None:
        from mltrail.client.sync import backend_settings, replay_leftovers

        try:
            report = replay_leftovers(
                self._directory(backend),
                backend=backend,
                tracking_uri=uri,
                settings=backend_settings(backend),
                stop=self._stop,
            )
        except Exception as exc:  # a background helper: report, never raise into the void
            logger.warning("mltrail: could not replay spool files left for %s: %s", uri, exc)
            self._checked.discard(uri)
            return
        if report.points or report.runs:
            logger.info(
                "mltrail: sent %d metric points and %d artifacts or models of %d runs that "
                "earlier processes left in the spool for %s",
                report.points,
                report.uploads,
                len(report.runs),
                uri,
            )
        for path, message in report.failed:
            logger.warning("mltrail: spool file %s not sent: %s", path, message)
        if report.failed:
            # Try again after the next batch the server takes (or leave it to mltrail sync).
            self._checked.discard(uri)

    def join(self, timeout: float) -> None:
        deadline = time.monotonic() + max(0.0, timeout)
        for thread in list(self._threads):
            thread.join(max(0.0, deadline - time.monotonic()))
