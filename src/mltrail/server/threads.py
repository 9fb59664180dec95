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

P = ParamSpec("P")
T = TypeVar("T")

MAX_THREADS = 40

_executor = ThreadPoolExecutor(max_workers=MAX_THREADS, thread_name_prefix="mltrail-io")


async def run_blocking(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """``fn(*args, **kwargs)`` in a worker thread, with the caller's context variables."""
    call = functools.partial(contextvars.copy_context().run, fn, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(_executor, call)
