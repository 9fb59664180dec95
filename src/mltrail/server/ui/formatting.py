"""Numbers, times and durations formatted for reading (used by templates and the CSV)."""

from __future__ import annotations

import math
from datetime import datetime, timezone

from mltrail.durations import format_duration as format_duration


def format_number(value: object) -> str:
    """Integers with thousands separators, floats with 4 significant digits (exponent if tiny/huge)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "∞" if value > 0 else "-∞"
        if value == int(value) and abs(value) < 1e15:
            return f"{int(value):,}"
        magnitude = abs(value)
        if magnitude != 0 and (magnitude < 1e-3 or magnitude >= 1e9):
            return f"{value:.3e}"
        return f"{value:,.4g}" if magnitude >= 1000 else f"{value:.4g}"
    return str(value)


def format_time(ms: int | None) -> str:
    """A UTC timestamp as 'YYYY-MM-DD HH:MM:SS' (the page's JS shows local time on hover)."""
    if ms is None or ms <= 0:
        return ""
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def iso_time(ms: int | None) -> str:
    if ms is None or ms <= 0:
        return ""
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).isoformat(timespec="seconds")


def relative_time(ms: int | None, *, now_ms: int) -> str:
    if not ms:
        return ""
    delta = max(0, (now_ms - ms) // 1000)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if delta >= size:
            return f"{delta // size}{unit} ago"
    return "just now"
