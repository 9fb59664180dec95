"""``--watch``: follow a registry alias (or stage, or latest) and swap to the version it names.

A thread asks the registry which version the URI names every ``interval`` seconds. When it
changes, the new version is downloaded, checked and loaded completely before one assignment
makes it the model that answers; a version that fails to load is logged and the old one keeps
answering.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from mltrail.serving.loading import ServedModel, current_version

if TYPE_CHECKING:
    from mltrail.client.tracking_client import TrackingClient
    from mltrail.serving.app import ModelHolder
    from mltrail.serving.metrics import ServingMetrics

logger = logging.getLogger("mltrail.serving")

DEFAULT_INTERVAL = 30.0


class AliasWatcher:
    def __init__(
        self,
        holder: ModelHolder,
        *,
        uri: str,
        client: TrackingClient,
        load: Callable[[], ServedModel],
        metrics: ServingMetrics,
        interval: float = DEFAULT_INTERVAL,
    ) -> None:
        self._holder = holder
        self._uri = uri
        self._client = client
        self._load = load
        self._metrics = metrics
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="mltrail-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.check()
            except Exception as exc:
                self._metrics.error("watch")
                logger.warning("Could not follow %s: %s", self._uri, getattr(exc, "message", exc))

    def check(self) -> bool:
        """Swap if the URI names another version now; whether it swapped."""
        serving = self._holder.current.source.version
        if current_version(self._uri, client=self._client) == serving:
            return False
        new = self._load()
        if new.source.version == serving:
            return False
        self._holder.swap(new)
        self._metrics.set_model(
            name=new.source.name,
            version=new.source.version,
            model_id=new.source.model_id,
            uri=new.source.uri,
        )
        self._metrics.swaps.inc()
        logger.info(
            "%s now names version %s; swapped from version %s",
            self._uri,
            new.source.version,
            serving,
        )
        return True
