"""Which tracking URI is in effect for the client.

Precedence: an explicit :func:`mltrail.set_tracking_uri` (or ``TrackingClient(uri)``),
then ``MLTRAIL_TRACKING_URI``, then the folder store ``./mltrail`` in the current
working directory. The accepted forms and where each puts artifacts are parsed by
:mod:`mltrail.uris`, which the server shares for its backend store URI.
"""

from __future__ import annotations

from mltrail.config import default_local_store, load_settings


def resolve_tracking_uri(explicit: str | None = None) -> str:
    """The tracking URI in effect: ``explicit``, else the setting, else ``./mltrail``."""
    if explicit:
        return explicit
    configured = load_settings().tracking_uri.strip()
    if configured:
        return configured
    return str(default_local_store())
