"""How long a run took, written the same way by the command line and the dashboard."""

from __future__ import annotations


def format_duration(start_ms: int | None, end_ms: int | None, *, unknown: str = "") -> str:
    """``29ms``, ``1.2s``, ``3m 05s``, ``2h 01m``, ``3d 4h``; ``unknown`` while the run has no
    end time (or no start)."""
    if not start_ms or not end_ms or end_ms < start_ms:
        return unknown
    seconds = (end_ms - start_ms) / 1000
    if seconds < 1:
        return f"{int(seconds * 1000)}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h"
