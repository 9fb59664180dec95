"""The fluent API's state: tracking URI, active experiment, synchronous flag, run stack.

The tracking URI, the active experiment and the synchronous flag are global to the
process; the stack of active runs is per thread (as MLflow's).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mltrail.client.batching import get_queue
from mltrail.client.uris import (
    announce,
    choose_tracking_uri,
    chosen_tracking_uri,
    current_tracking_uri,
)
from mltrail.config import Settings, load_settings
from mltrail.tracking_api import TrackingAPI
from mltrail.uris import parse_tracking_uri

if TYPE_CHECKING:
    from mltrail.client.fluent.runs import ActiveRun
    from mltrail.client.tracking_client import TrackingClient


@dataclass
class RunEntry:
    """An active run of this thread, with the backend it was started on."""

    run: ActiveRun
    backend: TrackingAPI
    # The params this process knows the run has (logged here, or there when it was resumed):
    # a different value is refused at the call site, not at the next flush.
    params: dict[str, str] = field(default_factory=dict)

    @property
    def run_id(self) -> str:
        return self.run.info.run_id


class FluentState:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.experiment_id: str | None = None
        self.synchronous: bool | None = None
        self.settings: Settings | None = None
        self.backend: TrackingAPI | None = None
        self.client: TrackingClient | None = None
        self.last_run_id: str | None = None
        self.atexit_registered = False


STATE = FluentState()


_local = threading.local()


def current_settings() -> Settings:
    settings = STATE.settings
    if settings is None:
        settings = STATE.settings = load_settings()
    return settings


def run_stack() -> list[RunEntry]:
    stack: list[RunEntry] | None = getattr(_local, "stack", None)
    if stack is None:
        stack = _local.stack = []
    return stack


def current_backend() -> TrackingAPI:
    backend = STATE.backend
    if backend is None:
        from mltrail.client.backends import get_backend

        with STATE.lock:
            backend = STATE.backend
            if backend is None:
                uri = get_tracking_uri()
                backend = STATE.backend = get_backend(uri)
                announce(uri)
    return backend


def current_client() -> TrackingClient:
    client = STATE.client
    if client is None:
        from mltrail.client.tracking_client import TrackingClient

        client = STATE.client = TrackingClient(get_tracking_uri())
    return client


def reset_state() -> None:
    """Forget the tracking URI, experiment, synchronous flag and this thread's runs.

    Queued items and kept errors are dropped. Meant for tests and notebooks that start over.
    """
    with STATE.lock:
        choose_tracking_uri(None)
        STATE.experiment_id = None
        STATE.synchronous = None
        STATE.settings = None
        STATE.backend = None
        STATE.client = None
        STATE.last_run_id = None
    _local.stack = []
    get_queue().reset()


def set_tracking_uri(uri: str | os.PathLike[str]) -> None:
    """Where runs are recorded: a folder, ``sqlite:///x.db``, a database URL or ``http(s)://``.

    Changing the URI forgets the active experiment (its id belongs to the previous store).
    """
    text = os.fspath(uri)
    parse_tracking_uri(text)  # bad URIs fail here, not at the first log call
    with STATE.lock:
        if choose_tracking_uri(text):
            STATE.backend = None
            STATE.client = None
            STATE.experiment_id = None


def get_tracking_uri() -> str:
    return current_tracking_uri()


def is_tracking_uri_set() -> bool:
    return bool(chosen_tracking_uri() or current_settings().tracking_uri)


def set_synchronous(synchronous: bool | None) -> None:
    """Send every log call immediately and raise errors at the call site (``None``: use the
    ``MLTRAIL_SYNCHRONOUS`` setting again)."""
    STATE.synchronous = synchronous


def is_synchronous(override: bool | None) -> bool:
    if override is not None:
        return override
    flag = STATE.synchronous
    return flag if flag is not None else current_settings().synchronous
