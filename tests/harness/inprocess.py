"""Drive an ASGI app in-process with a plain (synchronous) httpx client.

``httpx.Client(transport=AppTransport(app))`` sends each request to ``app`` on an event loop
that runs in a thread of its own, the way a server would, without a process or a socket.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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


@dataclass
class InProcessServer:
    """``create_app(settings)`` answering, in-process, every mltrail client built for ``url``.

    ``url`` is a name of its own under ``.localhost`` (a loopback name the server's Host check
    accepts), mounted in the client's transport seam: ``TrackingClient(url)``,
    ``mltrail.set_tracking_uri(url)``, the CLI's ``--tracking-uri url`` and the artifact proxy
    all reach ``app`` without a socket or a process.
    """

    app: Any
    settings: Any
    url: str
    transport: AppTransport

    def client(self, **kwargs: Any) -> httpx.Client:
        """A plain httpx client on the same app (close it, or use it in ``with``)."""
        return httpx.Client(transport=self.transport, base_url=self.url, **kwargs)


@contextmanager
def inprocess_server(settings: Any) -> Iterator[InProcessServer]:
    """Build the app from ``settings``, mount it for the clients, and take it down after."""
    from mltrail.client import rest_http
    from mltrail.server.app import create_app

    app = create_app(settings)
    transport = AppTransport(app)
    url = f"http://app-{uuid.uuid4().hex[:12]}.localhost"
    rest_http.mount_transport(url, transport)
    try:
        yield InProcessServer(app=app, settings=settings, url=url, transport=transport)
    finally:
        rest_http.unmount_transport(url)
        _forget_client_sessions(url)
        transport.close()
        services = getattr(app.state, "services", None)
        engine = getattr(services, "engine", None)
        if engine is not None:
            engine.dispose()


def _forget_client_sessions(url: str) -> None:
    """Close the client's cached sessions for ``url`` (they hold the transport)."""
    from mltrail.client import backends, http_artifacts

    for cache in (backends._rest_backends, backends._rest_models):
        cache.pop(url, None)
    for key in [k for k in http_artifacts._sessions if k[0] == url]:
        http_artifacts._sessions.pop(key).close()
