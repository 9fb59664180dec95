"""Drive an ASGI app in-process with a plain (synchronous) httpx client.

``httpx.Client(transport=AppTransport(app))`` sends each request to ``app`` on an event loop
that runs in a thread of its own, the way a server would, without a process or a socket.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import httpx


class AppTransport(httpx.BaseTransport):
    def __init__(self, app: Any, *, client: tuple[str, int] = ("127.0.0.1", 50000)) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._inner = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=client)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()

        async def call() -> tuple[int, httpx.Headers, bytes]:
            forwarded = httpx.Request(
                request.method, request.url, headers=request.headers, content=body
            )
            response = await self._inner.handle_async_request(forwarded)
            return response.status_code, response.headers, await response.aread()

        status, headers, content = asyncio.run_coroutine_threadsafe(call(), self._loop).result()
        return httpx.Response(status, headers=headers, content=content, request=request)

    def close(self) -> None:
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        self._loop.close()


def app_client(app: Any, *, base_url: str = "http://localhost", **kwargs: Any) -> httpx.Client:
    """A client whose requests ``app`` answers in-process (close it, or use it in ``with``)."""
    return httpx.Client(transport=AppTransport(app), base_url=base_url, **kwargs)
