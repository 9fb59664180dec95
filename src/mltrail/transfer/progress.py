"""Progress of an import or export on a terminal: runs, metric points and artifact bytes.

Three tqdm bars, one per line, redrawn at most ten times a second, and only when stderr is a
terminal: logs and pipes get the summary alone. Totals may grow while the transfer runs
(an export learns each experiment's runs as it reaches it), so the bars are made at the
first draw and their totals follow the counters.
"""

from __future__ import annotations

import shutil
import sys
from typing import Any, TextIO

from mltrail.artifacts.progress import is_terminal

_REDRAW_SECONDS = 0.1


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
        self._bars: list[Any] = []

    def add(self, *, runs: int = 0, points: int = 0, nbytes: int = 0) -> None:
        self.runs += runs
        self.points += points
        self.bytes += nbytes
        self.draw()

    def _open(self) -> list[Any]:
        from tqdm import tqdm

        # A terminal that reports no size (a fresh pty) would get bars of width 0.
        width, rows = shutil.get_terminal_size((100, 24))
        common: dict[str, Any] = {
            "file": self._stream,
            "mininterval": _REDRAW_SECONDS,
            "ncols": width if width >= 40 else 100,
            "nrows": rows if rows >= 4 else 24,
            "leave": True,
        }
        return [
            tqdm(desc="runs", unit=" runs", position=0, **common),
            tqdm(desc="points", unit=" points", unit_scale=True, position=1, **common),
            tqdm(
                desc="artifacts", unit="B", unit_scale=True, unit_divisor=1024, position=2, **common
            ),
        ]

    def draw(self, *, force: bool = False) -> None:
        if not self.enabled:
            return
        if not self._bars:
            self._bars = self._open()
        values = (
            (self.runs, self.runs_total),
            (self.points, self.points_total),
            (self.bytes, self.bytes_total),
        )
        for bar, (done, total) in zip(self._bars, values, strict=True):
            bar.total = total or None
            bar.update(done - bar.n)  # tqdm redraws at most every mininterval
            if force:
                bar.refresh()

    def close(self) -> None:
        if self._bars:
            self.draw(force=True)
            for bar in self._bars:
                bar.close()
            self._bars = []
