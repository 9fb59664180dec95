"""Which tracking URI is in effect for the client.

Precedence: an explicit :func:`mltrail.set_tracking_uri` (or ``TrackingClient(uri)``),
then ``MLTRAIL_TRACKING_URI``, then the folder store ``./mltrail`` in the current
working directory. The accepted forms and where each puts artifacts are parsed by
:mod:`mltrail.uris`, which the server shares for its backend store URI.
"""

from __future__ import annotations

import sys
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


_announced: set[str] = set()


def announce(uri: str) -> None:
    """Say once per process, on stderr, where the fluent API logs and what chose it: a script
    moved from mlflow must not log to a folder nobody looks at without a word."""
    settings = load_settings()
    if settings.quiet or uri in _announced:
        return
    _announced.add(uri)
    if _chosen:
        why = "set by mltrail.set_tracking_uri"
    elif settings.tracking_uri.strip():
        why = f"from {settings.tracking_uri_source or 'MLTRAIL_TRACKING_URI'}"
    else:
        why = (
            "no tracking URI set: set MLTRAIL_TRACKING_URI or MLFLOW_TRACKING_URI to log elsewhere"
        )
    print(f"mltrail: logging to {redacted(uri)} ({why})", file=sys.stderr)


def redacted(uri: str) -> str:
    """``uri`` without a password it may carry."""
    scheme, sep, rest = uri.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in credentials:
        return uri
    return f"{scheme}://{credentials.split(':', 1)[0]}:***@{host}"
