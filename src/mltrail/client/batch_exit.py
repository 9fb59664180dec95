"""The logging queue at interpreter exit: a bounded wait, then the rest goes to the spool.

At exit the queue waits at most ``flush_timeout`` seconds, spools what is left (also the
batch being sent, under the key it is being sent with) and says on stderr how many points
went to the spool and how to upload them (``mltrail sync``).
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Protocol

from mltrail.client.leftover_replay import LeftoverReplayer
from mltrail.client.spool_handoff import SpoolHandoff
from mltrail.errors import TemporarilyUnavailable


class ExitingQueue(Protocol):
    """What the exit hook needs of the logging queue (it lives above this module)."""

    flush_timeout: float
    leftovers: LeftoverReplayer
    spools: SpoolHandoff

    def flush(self, timeout: float | None = None) -> None: ...

    def spool_leftovers(self) -> int: ...


logger = logging.getLogger(__name__)


def flush_at_exit(queue: ExitingQueue) -> None:
    from mltrail.client import rest_http

    # One budget for the whole exit: requests made after this point (ending runs) stop
    # retrying at the deadline and never wait past it.
    rest_http.give_up_after(queue.flush_timeout)
    try:
        queue.flush(max(0.0, rest_http.time_left() or 0.0))
    except TemporarilyUnavailable:
        pass  # not drained in time: spooled below
    except BaseException as exc:  # report, never crash interpreter exit
        logger.error("mltrail: logging not completed at exit: %s", exc)
    # A replay of earlier processes' spools may finish within the budget; if not, what
    # it did not send stays in those files (sent again later under the same keys).
    queue.leftovers.join(rest_http.time_left() or 0.0)
    try:
        queue.spool_leftovers()
        points, batches, uploads, ends, files = queue.spools.report()
    except BaseException as exc:
        logger.error("mltrail: could not spool unsent values at exit: %s", exc)
        return
    queue.spools.close_all()
    if files:
        folder = os.path.dirname(files[0])
        parts = [f"{points} metric points ({batches} batches)"] if batches else []
        if uploads:
            parts.append(
                f"{uploads} artifact or model" if uploads == 1 else f"{uploads} artifacts or models"
            )
        if ends:
            parts.append(f"the end of {ends} run{'s' if ends > 1 else ''}")
        what = " and ".join(parts)
        print(
            f"mltrail: the tracking server could not be reached; {what} were saved to the "
            f"spool in {folder}. Upload them with: mltrail sync --spool-dir {folder}",
            file=sys.stderr,
        )
