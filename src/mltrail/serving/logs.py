"""Log lines of the serving commands on stderr: start-up, version warnings, swaps."""

from __future__ import annotations

import logging


def configure_logging() -> None:
    log = logging.getLogger("mltrail.serving")
    if log.handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s: [%(name)s] %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
