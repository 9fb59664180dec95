"""A one-line progress bar (tqdm's) on stderr for large uploads and downloads.

Shown only when stderr is a terminal and the transfer is at least :data:`THRESHOLD_BYTES`: logs,
pipes and CI output never get carriage-return noise, and small files are not worth a bar.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

THRESHOLD_BYTES = 8 * 1024 * 1024
# Redraw at most this often: a terminal write per 1 MiB chunk would slow fast local copies.
_REDRAW_SECONDS = 0.1


def is_terminal(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        # A closed or detached stream is not a terminal.
        return False


def wanted(total: int | None, *, stream: TextIO | None = None) -> bool:
    """Whether a transfer of ``total`` bytes gets a bar on ``stream`` (default: stderr)."""
    out = sys.stderr if stream is None else stream
    return total is not None and total >= THRESHOLD_BYTES and is_terminal(out)


def open_bar(label: str, *, total: int, stream: TextIO) -> Any:
    """A byte-counting bar on ``stream``: ``update(n)`` as bytes pass, ``close()`` at the end
    (which ends the line)."""
    from tqdm import tqdm

    # A terminal that reports no size (a fresh pty) would get a bar of width 0, or none at all
    # (tqdm hides bars below the screen's last row, and such a screen has no rows).
    width, rows = shutil.get_terminal_size((80, 24))
    return tqdm(
        total=total,
        desc=label,
        file=stream,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        mininterval=_REDRAW_SECONDS,
        ncols=width if width >= 20 else 80,
        nrows=rows if rows >= 2 else 24,
        leave=True,
    )


def track(
    chunks: Iterable[bytes], *, total: int | None, label: str, stream: TextIO | None = None
) -> Iterator[bytes]:
    """Yield ``chunks`` unchanged, drawing a bar when :func:`wanted` says so.

    The bar ends with a newline when the iteration ends, also on an error, so that the error
    message that follows starts on its own line.
    """
    out = sys.stderr if stream is None else stream
    if total is None or not wanted(total, stream=out):
        yield from chunks
        return
    bar = open_bar(label, total=total, stream=out)
    try:
        for chunk in chunks:
            bar.update(len(chunk))
            yield chunk
    finally:
        bar.close()
