"""Which tracking URI is in effect for the client.

Precedence: an explicit :func:`mltrail.set_tracking_uri` (or ``TrackingClient(uri)``),
then ``MLTRAIL_TRACKING_URI``, then the folder store ``./mltrail`` in the current
working directory. The accepted forms and where each puts artifacts are parsed by
:mod:`mltrail.uris`, which the server shares for its backend store URI.
"""

from __future__ import annotations

import threading

from mltrail.config import default_local_store, load_settings

_lock = threading.Lock()
# What mltrail.set_tracking_uri() chose for this process (None: not set).
_chosen: str | None = None


def choose_tracking_uri(uri: str | None) -> bool:
    """Make ``uri`` the process's tracking URI (``None`` forgets it); whether it changed."""
    global _chosen
    with _lock:
        changed = uri != _chosen
        _chosen = uri
    return changed


def chosen_tracking_uri() -> str | None:
    return _chosen


def current_tracking_uri() -> str:
    """The tracking URI in effect for this process."""
    return resolve_tracking_uri(_chosen)


def resolve_tracking_uri(explicit: str | None = None) -> str:
    """The tracking URI in effect: ``explicit``, else the setting, else ``./mltrail``."""
    if explicit:
        return explicit
    configured = load_settings().tracking_uri.strip()
    if configured:
        return configured
    return str(default_local_store())
