"""Running blocking work (database calls, file I/O) off the event loop.

Starlette's ``run_in_threadpool`` goes through anyio: a cancel scope, a capacity limiter
and anyio's own worker-thread protocol cost about 80 us of CPU per call, more than the
SQLite work of a ``log_metric`` request. This uses asyncio's executor with a plain thread
pool of the same size as anyio's default limiter (40), and carries the caller's context
variables into the thread as anyio does. Work that calls back into the event loop
(``anyio.from_thread``, as the streamed artifact bodies do) needs anyio's own threads and
keeps using ``run_in_threadpool``.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from mltrail.store.sql.engine import WriteWouldWait, writes_without_waiting

P = ParamSpec("P")
T = TypeVar("T")

MAX_THREADS = 40

_executor = ThreadPoolExecutor(max_workers=MAX_THREADS, thread_name_prefix="mltrail-io")


async def run_blocking(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """``fn(*args, **kwargs)`` in a worker thread, with the caller's context variables."""
    call = functools.partial(contextvars.copy_context().run, fn, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(_executor, call)


async def run_quick_write(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """``fn`` (a handler that makes one small SQLite write) on the event loop, or in a worker
    thread when its write would have to wait for another writer.

    Handing a request to a thread and back costs about 200 us of CPU on a 2-vCPU virtual
    machine (two threads woken on two cores), as much as the write itself; on the event loop
    the write cannot wait, so it takes the lock at once or is run again in a thread.
    """
    try:
        with writes_without_waiting():
            return fn(*args, **kwargs)
    except WriteWouldWait:
        return await run_blocking(fn, *args, **kwargs)
