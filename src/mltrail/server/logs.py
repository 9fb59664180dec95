"""Where the server's own messages go (imported by the supervisor, which has no app)."""

from __future__ import annotations

import logging


def configure_logging() -> None:
    """Send mltrail's server messages to stderr beside uvicorn's (once per process)."""
    log = logging.getLogger("mltrail")
    if log.handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s:     [%(name)s] %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
