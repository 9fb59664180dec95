"""A one-line progress bar on stderr for large uploads and downloads.

Shown only when stderr is a terminal and the transfer is at least :data:`THRESHOLD_BYTES`: logs,
pipes and CI output never get carriage-return noise, and small files are not worth a bar.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Iterable, Iterator
from typing import TextIO

THRESHOLD_BYTES = 8 * 1024 * 1024
# Redraw at most this often: a terminal write per 1 MiB chunk would slow fast local copies.
_REDRAW_SECONDS = 0.1
_MIB = 1024 * 1024


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


def _size(n: float) -> str:
    if n >= 1024 * _MIB:
        return f"{n / (1024 * _MIB):.2f} GB"
    return f"{n / _MIB:.1f} MB"


class ProgressBar:
    """``label  [#####.....]  42%  12.0/28.5 MB  9.8 MB/s`` redrawn in place."""

    def __init__(self, label: str, *, total: int, stream: TextIO) -> None:
        self._label = label
        self._total = max(total, 0)
        self._stream = stream
        self._done = 0
        self._started = time.monotonic()
        self._last_draw = 0.0
        self._closed = False

    @property
    def done(self) -> int:
        return self._done

    def update(self, n: int) -> None:
        self._done += n
        now = time.monotonic()
        if now - self._last_draw >= _REDRAW_SECONDS:
            self._last_draw = now
            self._draw(now)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._draw(time.monotonic())
        self._stream.write("\n")
        self._stream.flush()

    def render(self, *, width: int, elapsed: float) -> str:
        fraction = min(self._done / self._total, 1.0) if self._total else 1.0
        rate = self._done / elapsed if elapsed > 0 else 0.0
        tail = f" {fraction * 100:3.0f}%  {_size(self._done)}/{_size(self._total)}  {_size(rate)}/s"
        room = min(len(self._label), max(12, width // 3))
        label = self._label if len(self._label) <= room else "..." + self._label[-(room - 3) :]
        bar_width = max(10, min(30, width - room - len(tail) - 5))
        filled = int(bar_width * fraction)
        bar = "[" + "#" * filled + "." * (bar_width - filled) + "]"
        return f"{label}  {bar}{tail}"[: max(width - 1, 20)]

    def _draw(self, now: float) -> None:
        width = shutil.get_terminal_size((80, 24)).columns
        line = self.render(width=width, elapsed=now - self._started)
        self._stream.write("\r" + line.ljust(max(width - 1, 0))[: max(width - 1, 20)])
        self._stream.flush()


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
    bar = ProgressBar(label, total=total, stream=out)
    try:
        for chunk in chunks:
            bar.update(len(chunk))
            yield chunk
    finally:
        bar.close()
