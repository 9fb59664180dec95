"""How the CLI prints things: aligned plain-text tables, or JSON with ``--output json``.

Nothing here imports more than the standard library and click, so that every command
module can use it at import time without slowing down ``mltrail --help``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import click

from mltrail import durations

OUTPUT_FORMATS = ("table", "json")

output_option = click.option(
    "--output",
    "-o",
    "output_format",
    type=click.Choice(OUTPUT_FORMATS),
    default="table",
    show_default=True,
    help="Print an aligned table for people or JSON for scripts.",
)


def render_table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """Columns padded to their widest cell, separated by two spaces; no trailing blanks."""
    body = [list(map(str, row)) for row in rows]
    widths = [len(h) for h in headers]
    for row in body:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def line(cells: Sequence[str]) -> str:
        return "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(cells)).rstrip()

    lines = [line(headers), line(["-" * w for w in widths])]
    lines.extend(line(row) for row in body)
    return "\n".join(lines)


def render_pairs(pairs: Iterable[tuple[str, str]]) -> str:
    """``key: value`` lines with the values aligned (for one object's fields)."""
    items = list(pairs)
    if not items:
        return ""
    width = max(len(k) for k, _ in items) + 1
    return "\n".join(f"{(k + ':').ljust(width)} {v}".rstrip() for k, v in items)


def echo_json(value: Any) -> None:
    click.echo(json.dumps(to_jsonable(value), indent=2, sort_keys=False))


def to_jsonable(value: Any) -> Any:
    """Dataclasses, enums and mappings as plain JSON values.

    NaN and infinities are not valid JSON numbers; they become the strings ``"NaN"``,
    ``"Infinity"`` and ``"-Infinity"`` so that the output parses everywhere.
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        if math.isnan(value):
            return "NaN"
        return "Infinity" if value > 0 else "-Infinity"
    if hasattr(value, "value") and hasattr(value, "name") and not isinstance(value, str | int):
        return to_jsonable(value.value)
    return value


def format_time(ms: int | None) -> str:
    """A millisecond timestamp as local ``YYYY-MM-DD HH:MM:SS``; ``-`` when unknown."""
    if ms is None:
        return "-"
    return dt.datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M:%S")


def format_duration(start_ms: int | None, end_ms: int | None) -> str:
    """As the dashboard writes it (``29ms``, ``3m 05s``); ``-`` while the run has no end time."""
    return durations.format_duration(start_ms, end_ms, unknown="-")


def format_number(value: float | None) -> str:
    """Six significant digits keeps tables narrow; JSON output has the exact values."""
    if value is None:
        return "-"
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.6g}"
