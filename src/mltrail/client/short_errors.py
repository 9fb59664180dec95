"""One line instead of a traceback for an mltrail error that a script does not catch.

What went wrong is in the error's message (what to check, what to do); a traceback through
mltrail's own modules adds only noise for a data scientist. The line names the script's own
line that made the call. ``MLTRAIL_TRACEBACKS=1`` restores Python's traceback; every other
exception goes to the hook that was there before.
"""

from __future__ import annotations

import sys
import traceback
from pathlib import Path
from types import TracebackType

from mltrail.errors import MltrailError

_PACKAGE = str(Path(__file__).resolve().parents[1])
_installed = False


def install() -> None:
    global _installed
    if _installed:
        return
    previous = sys.excepthook

    def hook(kind: type[BaseException], error: BaseException, tb: TracebackType | None) -> None:
        if isinstance(error, MltrailError) and not _tracebacks_wanted():
            sys.stderr.write(f"{_caller(tb)}mltrail: {kind.__name__}: {error.message}\n")
            return
        previous(kind, error, tb)

    sys.excepthook = hook
    _installed = True


def _tracebacks_wanted() -> bool:
    from mltrail.config import load_settings

    try:
        return load_settings().tracebacks
    except MltrailError:  # a bad setting elsewhere must not hide the error being reported
        return False


def _caller(tb: TracebackType | None) -> str:
    """``file:line: `` of the last frame outside mltrail (the script's call), if any."""
    frames = [
        frame for frame in traceback.extract_tb(tb) if not frame.filename.startswith(_PACKAGE)
    ]
    if not frames:
        return ""
    return f"{frames[-1].filename}:{frames[-1].lineno}: "
