"""Progress of an import or export on a terminal: runs, metric points and artifact bytes.

Three bars on one line, redrawn in place at most ten times a second, and only when stderr
is a terminal: logs and pipes get the summary alone.
"""

from __future__ import annotations

import shutil
import sys
import time
from typing import TextIO

from mltrail.artifacts.progress import is_terminal

_REDRAW_SECONDS = 0.1
_BAR = 12


def _count(n: float) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return f"{int(n)}"


def _bytes(n: float) -> str:
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("kB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} B"


def _bar(done: float, total: float) -> str:
    if total <= 0:
        return ""
    filled = int(_BAR * min(1.0, done / total))
    return "[" + "#" * filled + "." * (_BAR - filled) + "] "


class Progress:
    def __init__(self, *, stream: TextIO | None = None, enabled: bool | None = None) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self.enabled = is_terminal(self._stream) if enabled is None else enabled
        self.runs = 0
        self.runs_total = 0
        self.points = 0
        self.points_total = 0
        self.bytes = 0
        self.bytes_total = 0
        self._last = 0.0
        self._drawn = False

    def add(self, *, runs: int = 0, points: int = 0, nbytes: int = 0) -> None:
        self.runs += runs
        self.points += points
        self.bytes += nbytes
        self.draw()

    def draw(self, *, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < _REDRAW_SECONDS:
            return
        self._last = now
        line = (
            f"runs {_bar(self.runs, self.runs_total)}{self.runs:,}/{self.runs_total:,}  "
            f"points {_bar(self.points, self.points_total)}{_count(self.points)}"
            f"/{_count(self.points_total)}  "
            f"artifacts {_bar(self.bytes, self.bytes_total)}{_bytes(self.bytes)}"
            + (f"/{_bytes(self.bytes_total)}" if self.bytes_total else "")
        )
        width = shutil.get_terminal_size((100, 20)).columns
        self._stream.write("\r" + line[: width - 1].ljust(width - 1))
        self._stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self.enabled and self._drawn:
            self.draw(force=True)
            self._stream.write("\n")
            self._stream.flush()
