"""Pure ASGI middlewares: URL prefix, Host allow-list, request-body limit.

They wrap ``receive``/``send`` instead of using Starlette's BaseHTTPMiddleware, which
costs a task and a memory stream per request and buffers streaming bodies.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import json
import socket
from collections.abc import Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mltrail.errors import RequestTooLarge


async def send_error(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps({"error_code": code, "message": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def route_path(scope: Scope) -> str:
    """The request path below ``root_path`` (what the router matches against)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if not root or not path.startswith(root):
        return path
    if path == root:
        return ""
    return path[len(root) :] if path[len(root)] == "/" else path


class PrefixMiddleware:
    """Serve everything under ``prefix`` (``--static-prefix``); other paths are 404.

    The prefix becomes the ASGI ``root_path``, so routing, URL building and the mounted
    adapters all work as if the app lived at ``/``.
    """

    def __init__(self, app: ASGIApp, *, prefix: str) -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        root = scope.get("root_path", "")
        full = root + self.prefix
        path: str = scope["path"]
        # Servers differ on whether "path" already includes root_path (the ASGI spec says it does).
        if not path.startswith(root):
            path = root + path
        if path != full and not path.startswith(full + "/"):
            if scope["type"] == "http":
                await send_error(send, 404, "ENDPOINT_NOT_FOUND", f"Not under {self.prefix}")
            return
        await self.app(dict(scope, path=path, root_path=full), receive, send)


LOOPBACK_HOSTS = ("localhost", "*.localhost", "127.0.0.1", "[::1]")
_WILDCARD_BINDS = ("", "0.0.0.0", "::", "[::]")


def default_allowed_hosts(bind_host: str, *, auth: bool) -> tuple[str, ...] | None:
    """The Host header values a server bound to ``bind_host`` accepts when none are configured.

    A page on another site can point a name it controls at this server (DNS rebinding) and then
    talk to it as if it were that site; without authentication nothing else would stop it. So:
    loopback names on loopback; the name or address the server was bound to; on every interface,
    with authentication on, any name (a rebound page holds no credentials for this server), and
    without it only this machine's names and IP literals (a literal cannot be rebound).
    ``None`` means any host.
    """
    host = bind_host.strip().lower()
    if host in _WILDCARD_BINDS:
        if auth:
            return None
        machine = {socket.gethostname().lower(), socket.getfqdn().lower()} - {""}
        return (*LOOPBACK_HOSTS, *sorted(machine), IP_LITERALS)
    if is_loopback(host):
        return LOOPBACK_HOSTS
    return (f"[{host.strip('[]')}]" if ":" in host else host,)


# A pattern that matches every IPv4 or bracketed IPv6 literal.
IP_LITERALS = "<ip-literal>"


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _is_ip_literal(name: str) -> bool:
    try:
        ipaddress.ip_address(name[1:-1] if name.startswith("[") else name)
    except ValueError:
        return False
    return True


def _matches(name: str, pattern: str) -> bool:
    # Only "*" and "?" are wildcards: "[::1]" is an IPv6 literal, not a character class.
    if "*" not in pattern and "?" not in pattern:
        return name == pattern
    return fnmatch.fnmatchcase(name, pattern.replace("[", "[[]"))


class HostAllowListMiddleware:
    """Refuse requests whose Host header is not allowed (DNS-rebinding protection).

    Patterns match the host name without the port (``example.com``, ``*.example.com``)
    or the whole header (``example.com:5000``); :data:`IP_LITERALS` matches any IP address.
    """

    def __init__(self, app: ASGIApp, *, allowed_hosts: Sequence[str]) -> None:
        self.app = app
        patterns = [h.strip().lower() for h in allowed_hosts if h.strip()]
        self.ip_literals = IP_LITERALS in patterns
        self.patterns = tuple(p for p in patterns if p != IP_LITERALS)

    def allowed(self, header: str) -> bool:
        host = header.strip().lower()
        if host.startswith("["):
            name = host[: host.find("]") + 1] if "]" in host else host
        else:
            name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
        if self.ip_literals and _is_ip_literal(name):
            return True
        return any(_matches(name, pattern) or _matches(host, pattern) for pattern in self.patterns)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            header = ""
            for key, value in scope["headers"]:
                if key == b"host":
                    header = value.decode("latin-1")
                    break
            if not self.allowed(header):
                if scope["type"] == "http":
                    await send_error(
                        send,
                        403,
                        "PERMISSION_DENIED",
                        f"Host {header!r} is not allowed: start the server with "
                        "--allowed-hosts NAME (or MLTRAIL_ALLOWED_HOSTS) to accept this name",
                    )
                return
        await self.app(scope, receive, send)


class BodyLimitMiddleware:
    """Answer 413 for bodies above ``max_bytes``.

    A too-large Content-Length is refused before anything is read; a chunked body is cut
    off once it passes the limit (the handler sees an error, and whatever answer it
    starts is replaced by the 413). Paths under ``streaming_prefixes`` (artifact uploads,
    which stream to storage and can be many GB) are exempt.
    """

    def __init__(
        self, app: ASGIApp, *, max_bytes: int, streaming_prefixes: Sequence[str] = ()
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.streaming_prefixes = tuple(streaming_prefixes)

    def _exempt(self, scope: Scope) -> bool:
        if scope.get("method") not in ("PUT", "POST"):
            return False
        path: str = scope["path"]
        root: str = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        return path.startswith(self.streaming_prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.max_bytes <= 0 or self._exempt(scope):
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        for key, value in scope["headers"]:
            if key == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await send_error(send, 400, "BAD_REQUEST", "Invalid Content-Length header")
                    return
                if declared > limit:
                    await send_error(send, 413, RequestTooLarge.code, _too_large(limit))
                    return
                break

        received = 0
        exceeded = False
        replaced = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise RequestTooLarge(_too_large(limit))
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal replaced
            if exceeded:
                if message["type"] == "http.response.start" and not replaced:
                    replaced = True
                    await send_error(send, 413, RequestTooLarge.code, _too_large(limit))
                return
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except RequestTooLarge:
            if not exceeded:
                raise
        if exceeded and not replaced:
            await send_error(send, 413, RequestTooLarge.code, _too_large(limit))


def _too_large(limit: int) -> str:
    return f"Request body exceeds the limit of {limit} bytes (max_request_bytes)"
