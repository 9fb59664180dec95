"""Refuse what a web page of another site can make a browser send (cross-site request forgery).

A browser attaches credentials it holds for this server (HTTP Basic it has cached, the session
cookie) to requests that any page can start: a form post or a ``fetch`` in ``no-cors`` mode. Such
"simple" requests can only be POSTs with a form, multipart or plain-text body (or a body with no
type), and the browser always says where they come from in ``Origin`` (``Referer`` when a
privacy setting drops ``Origin``). So, on every route family and whatever the authentication:

* a state-changing request whose ``Origin`` (else ``Referer``) is another site, or ``null``,
  is refused with 403 unless that origin is listed in ``--cors-allowed-origins``;
* a JSON route refuses a body that is not declared ``application/json`` with 415, so even a
  browser that sent no origin cannot reach it with a simple request.

Clients that are not browsers send neither header and a JSON type, and pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from mltrail.server.middleware import route_path, send_error

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_DEFAULT_PORTS = {"http": "80", "https": "443"}
# Routes that read a JSON body; the UI's own form posts carry a CSRF token of their own.
JSON_PREFIXES = ("/api/", "/ajax-api/", "/ui-api/", "/graphql")


def origin_key(value: str) -> str | None:
    """``scheme://host:port`` in lower case with the default port spelled out (None: unusable)."""
    parts = urlsplit(value.strip())
    if not parts.scheme or not parts.hostname:
        return None
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port or _DEFAULT_PORTS.get(scheme, '')}"


def _host_key(scheme: str, host_header: str) -> str | None:
    return origin_key(f"{scheme}://{host_header.strip()}") if host_header.strip() else None


class CrossSiteGuard:
    def __init__(
        self,
        app: ASGIApp,
        *,
        allowed_origins: Sequence[str] = (),
        binary_prefixes: Sequence[str] = (),
    ) -> None:
        self.app = app
        self.allowed = frozenset(k for k in map(origin_key, allowed_origins) if k)
        self.binary_prefixes = tuple(binary_prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        problem = self._origin_problem(scope, headers)
        if problem:
            await send_error(send, 403, "PERMISSION_DENIED", problem)
            return
        problem = self._body_problem(scope, headers)
        if problem:
            await send_error(send, 415, "INVALID_PARAMETER_VALUE", problem)
            return
        await self.app(scope, receive, send)

    def _origin_problem(self, scope: Scope, headers: dict[bytes, bytes]) -> str | None:
        raw = headers.get(b"origin")
        what = "Origin"
        if raw is None:
            raw = headers.get(b"referer")
            what = "Referer"
            if raw is None:
                return None
        sent = raw.decode("latin-1").strip()
        if sent.lower() == "null":
            return "Cross-site request refused: the request came from an opaque origin (null)"
        origin = origin_key(sent)
        if origin is not None and (origin in self.allowed or origin in _own_origins(headers)):
            return None
        return (
            f"Cross-site request refused: {what} {sent[:200]!r} is not this server; "
            "list trusted web applications with --cors-allowed-origins"
        )

    def _body_problem(self, scope: Scope, headers: dict[bytes, bytes]) -> str | None:
        if scope["method"] not in _BODY_METHODS:
            return None
        path = route_path(scope)
        if not path.startswith(JSON_PREFIXES) or path.startswith(self.binary_prefixes):
            return None
        content_type = headers.get(b"content-type", b"").decode("latin-1")
        media = content_type.split(";", 1)[0].strip().lower()
        if media == "application/json" or (
            media.startswith("application/") and media.endswith("+json")
        ):
            return None
        if not media and not _has_body(headers):
            return None  # a bare POST (restore, say) carries nothing a page could forge
        return "Bad Request. Content-Type must be one of ['application/json']" + (
            f" (got {media!r})." if media else " (it is missing)."
        )


def _has_body(headers: dict[bytes, bytes]) -> bool:
    if b"transfer-encoding" in headers:
        return True
    length = headers.get(b"content-length", b"0").strip()
    return length not in (b"", b"0")


def _own_origins(headers: dict[bytes, bytes]) -> set[str]:
    """The origins this request was addressed to: its Host (and a proxy's X-Forwarded-Host,
    which no page can set on a simple request), with either scheme a proxy might terminate."""
    names = [headers.get(b"host", b"").decode("latin-1")]
    forwarded = headers.get(b"x-forwarded-host")
    if forwarded:
        names.append(forwarded.decode("latin-1").split(",")[0])
    own: set[str] = set()
    for name in names:
        for scheme in ("http", "https"):
            key = _host_key(scheme, name)
            if key:
                own.add(key)
    return own
