"""The authentication and route-rule layer (pure ASGI, in front of routing).

For each HTTP request: find the route it will reach and its rule; unknown routes and
routes without a rule are refused. Public routes pass. Otherwise the caller is
authenticated (Basic user:password or user:token, Bearer token, or the session cookie);
a request authenticated by cookie that changes state must come from this site (Origin /
Sec-Fetch-Site) and, for API routes, be JSON with the CSRF token echoed in a header.
The principal is then set for the services to check permissions against.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
from urllib.parse import quote

from starlette.routing import Match, Router
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mltrail.errors import MltrailError, TooManyRequests, Unauthenticated
from mltrail.server.access import ADMIN, PUBLIC, effective_routes, rule_of
from mltrail.server.auth import password_change
from mltrail.server.auth.credentials import SESSION_COOKIE, Basic, cookie_value, parse_authorization
from mltrail.server.caller import Caller
from mltrail.server.middleware import route_path
from mltrail.server.threads import run_blocking
from mltrail.service.auth import AuthService, Session, split_token
from mltrail.service.permissions import Principal, reset_principal, set_principal
from mltrail.store.schema_auth import UserRecord

logger = logging.getLogger("mltrail.auth")

REALM = 'Basic realm="mltrail"'
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
UI_CSRF_COOKIE = "mltrail_csrf"
CSRF_HEADER = b"x-csrf-token"


class CredentialCache:
    """Recently verified Basic passwords, so that a client sending its password on every
    request does not pay a full argon2 verification each time.

    Entries are keyed by a keyed hash of the credentials (never the password itself) and
    tied to the user's password-change time, which is re-read on every hit: a password
    change, a deleted user or a changed admin flag act at once on every server process. A
    revoked API token sent as a Basic password is the one thing a hit does not re-check; it
    stops working when its entry expires, ``seconds`` after it was verified
    (``MLTRAIL_AUTH_CACHE_SECONDS``, 5 by default), on every process.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._key = secrets.token_bytes(32)
        self._entries: dict[bytes, tuple[float, int, int]] = {}

    def key(self, username: str, secret: str) -> bytes:
        return hmac.new(self._key, f"{username}\0{secret}".encode(), hashlib.sha256).digest()

    def get(self, key: bytes) -> tuple[int, int] | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] < time.monotonic():
            self._entries.pop(key, None)
            return None
        return entry[1], entry[2]

    def put(self, key: bytes, user: UserRecord) -> None:
        if self.seconds <= 0:
            return
        if len(self._entries) > 10_000:
            self._entries.clear()
        self._entries[key] = (
            time.monotonic() + self.seconds,
            user.id,
            user.password_changed_at,
        )


class AuthMiddleware:
    def __init__(
        self, app: ASGIApp, *, router: Router, auth: AuthService, cache_seconds: float
    ) -> None:
        self.app = app
        self.router = router
        self.auth = auth
        self.cache = CredentialCache(cache_seconds)
        self.fixed_rules: dict[tuple[str, str], str | None] = {}

    def _rule(self, scope: Scope) -> str | None:
        # Routes with a fixed path (most API calls) are looked up once: trying every
        # route's pattern costs more than the rest of a logging request.
        key = (scope["method"], route_path(scope))
        if key in self.fixed_rules:
            return self.fixed_rules[key]
        partial: str | None = None
        found_partial = False
        for route in effective_routes(self.router.routes):
            match, _ = route.matches(scope)
            if match is Match.FULL:
                rule = rule_of(route)
                if getattr(route, "param_convertors", None) == {}:
                    self.fixed_rules[key] = rule
                return rule
            if match is Match.PARTIAL and not found_partial:
                found_partial = True
                partial = rule_of(route)
        return partial if found_partial else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            await self.app(scope, receive, send)
            return
        rule = self._rule(scope)
        try:
            caller = await self._authenticate(scope)
        except MltrailError as exc:
            await _reject(scope, send, exc)
            return
        if rule == PUBLIC:
            await self._forward(scope, receive, send, caller)
            return
        if rule is None:
            # Unknown route, or a route that declares no rule: refused either way.
            if caller is None:
                await _reject(scope, send, Unauthenticated("Authentication required"))
            else:
                await _answer(send, 404, "ENDPOINT_NOT_FOUND", "No such endpoint")
            return
        if caller is None:
            await _reject(scope, send, Unauthenticated("Authentication required"))
            return
        if caller.must_change_password and not password_change.may_pass(scope):
            await _must_change_password(scope, send, caller)
            return
        if rule == ADMIN and not caller.principal.is_admin:
            await _answer(send, 403, "PERMISSION_DENIED", "Permission denied: admins only")
            return
        if caller.session is not None and scope["method"] not in SAFE_METHODS:
            problem = _cross_site_problem(scope, caller.session, rule)
            if problem:
                await _answer(send, 403, "PERMISSION_DENIED", problem)
                return
        await self._forward(scope, receive, send, caller)

    async def _forward(
        self, scope: Scope, receive: Receive, send: Send, caller: Caller | None
    ) -> None:
        scope["mltrail.caller"] = caller
        token = set_principal(caller.principal if caller else None)
        if caller is not None and caller.session is not None:
            send = _private(send)
        try:
            await self.app(scope, receive, send)
        finally:
            reset_principal(token)

    async def _authenticate(self, scope: Scope) -> Caller | None:
        header: bytes | None = None
        cookies = ""
        for key, value in scope["headers"]:
            if key == b"authorization":
                header = value
            elif key == b"cookie":
                cookies = value.decode("latin-1")
        address = (scope.get("client") or ("unknown", 0))[0] or "unknown"
        if header is not None:
            credentials = parse_authorization(header)
            if isinstance(credentials, Basic):
                user = await self._basic(credentials, address=address)
                by_password = split_token(credentials.secret) is None
            else:
                user = await run_blocking(
                    self.auth.authenticate_token, credentials.token, address=address
                )
                by_password = False
            return Caller(
                Principal(user.id, user.username, user.is_admin),
                must_change_password=by_password and user.must_change_password,
            )
        session_value = cookie_value(cookies, SESSION_COOKIE) if cookies else ""
        if session_value:
            session = await run_blocking(self.auth.session, session_value)
            if session is not None:
                user = session.user
                return Caller(
                    Principal(user.id, user.username, user.is_admin),
                    session,
                    must_change_password=user.must_change_password,
                )
        return None

    async def _basic(self, credentials: Basic, *, address: str) -> UserRecord:
        key = self.cache.key(credentials.username, credentials.secret)
        cached = self.cache.get(key)
        if cached is not None:
            user = await run_blocking(self.auth.store.get_user_by_id, cached[0])
            if (
                user is not None
                and user.password_changed_at == cached[1]
                and user.username == credentials.username
            ):
                return user
        user = await run_blocking(
            self.auth.authenticate_secret,
            credentials.username,
            credentials.secret,
            address=address,
        )
        self.cache.put(key, user)
        return user


async def _must_change_password(scope: Scope, send: Send, caller: Caller) -> None:
    if _is_page_request(scope):
        location = scope.get("root_path", "") + password_change.ACCOUNT_PAGE + "?done=must_change"
        await send(
            {
                "type": "http.response.start",
                "status": 303,
                "headers": [(b"location", location.encode()), (b"content-length", b"0")],
            }
        )
        await send({"type": "http.response.body", "body": b""})
        return
    text = password_change.message(caller.principal.username)
    await _answer(send, 403, "PERMISSION_DENIED", text)


def _private(send: Send) -> Send:
    """Answers to a signed-in browser are not stored unless the route chose a cache policy:
    after logout, the back button must not bring a signed-in page back from a cache."""

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            if not any(k.lower() == b"cache-control" for k, _ in headers):
                headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
        await send(message)

    return wrapped


def _headers(scope: Scope) -> dict[bytes, bytes]:
    return {k: v for k, v in scope["headers"]}


def _cross_site_problem(scope: Scope, session: Session, rule: str) -> str | None:
    """Why a cookie-authenticated state change is refused (None: it may go on)."""
    headers = _headers(scope)
    site = headers.get(b"sec-fetch-site", b"").decode("latin-1").lower()
    if site and site not in ("same-origin", "none"):
        return "Cross-site request refused"
    origin = headers.get(b"origin", b"").decode("latin-1")
    if origin:
        host = headers.get(b"host", b"").decode("latin-1")
        if origin == "null" or origin.split("://", 1)[-1].rstrip("/") != host:
            return "Cross-origin request refused"
    if rule.startswith("ui:"):
        # UI form posts carry the double-submit CSRF token the UI checks itself.
        return None
    content_type = headers.get(b"content-type", b"").decode("latin-1").split(";")[0].strip()
    if scope["method"] == "POST" and content_type.lower() != "application/json":
        return "Requests authenticated by a session cookie must send application/json"
    sent = headers.get(CSRF_HEADER, b"").decode("latin-1")
    ui_token = cookie_value(headers.get(b"cookie", b"").decode("latin-1"), UI_CSRF_COOKIE)
    valid = [t for t in (session.csrf_token, ui_token) if t]
    if not sent or not any(hmac.compare_digest(sent, t) for t in valid):
        return "Missing or wrong X-CSRF-Token header"
    return None


def _is_page_request(scope: Scope) -> bool:
    if scope["method"] != "GET":
        return False
    path: str = scope.get("path", "")
    if path.startswith(("/api/", "/ajax-api/", "/ui-api/")):
        return False
    accept = _headers(scope).get(b"accept", b"").decode("latin-1")
    return "text/html" in accept


async def _reject(scope: Scope, send: Send, exc: MltrailError) -> None:
    if isinstance(exc, Unauthenticated) and _is_page_request(scope):
        root = scope.get("root_path", "")
        target = scope.get("path", "/")
        if root and target.startswith(root):
            target = target[len(root) :]
        query = scope.get("query_string", b"").decode("latin-1")
        if query:
            # Back to the same view after login (filters, sort, columns live in the URL).
            target = f"{target}?{query}"
        location = f"{root}/login?next={quote(target or '/', safe='')}"
        await send(
            {
                "type": "http.response.start",
                "status": 303,
                "headers": [(b"location", location.encode()), (b"content-length", b"0")],
            }
        )
        await send({"type": "http.response.body", "body": b""})
        return
    extra: list[tuple[bytes, bytes]] = []
    if isinstance(exc, Unauthenticated):
        extra.append((b"www-authenticate", REALM.encode()))
    if isinstance(exc, TooManyRequests):
        extra.append((b"retry-after", str(exc.retry_after or 60).encode()))
    await _answer(send, exc.status, exc.code, exc.message, extra)


async def _answer(
    send: Send,
    status: int,
    code: str,
    message: str,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    body = json.dumps({"error_code": code, "message": message}).encode()
    headers: list[tuple[bytes, bytes]] = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
    ]
    headers.extend(extra or [])
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
