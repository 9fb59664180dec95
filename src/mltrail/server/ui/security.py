"""Security of the UI pages: response headers and the double-submit CSRF token.

Every response of the UI router carries a strict Content-Security-Policy (no inline script or
style, no framing), ``nosniff`` and a referrer policy. State changes are POSTs that must echo the
CSRF cookie in a form field or an ``X-CSRF-Token`` header; a cross-site page can make the browser
send the cookie but cannot read it, so it cannot echo it.
"""

from __future__ import annotations

import hmac
import secrets

from starlette.requests import Request
from starlette.responses import Response

from mltrail.errors import PermissionDenied

CSRF_COOKIE = "mltrail_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
_TOKEN_BYTES = 32

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def apply_security_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def csrf_token_for(request: Request) -> str:
    """The token of this browser: the cookie's value, or a new one (set by :func:`set_csrf_cookie`)."""
    current = request.cookies.get(CSRF_COOKIE, "")
    if 20 <= len(current) <= 128 and all(c.isalnum() or c in "-_" for c in current):
        return current
    existing = request.scope.get("mltrail.csrf")
    if isinstance(existing, str):
        return existing
    token = secrets.token_urlsafe(_TOKEN_BYTES)
    request.scope["mltrail.csrf"] = token
    return token


def set_csrf_cookie(request: Request, response: Response) -> None:
    """Send the cookie when the browser does not have it yet."""
    token = request.scope.get("mltrail.csrf")
    if not isinstance(token, str):
        return
    response.set_cookie(
        CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path=request.scope.get("root_path", "") or "/",
    )


def check_csrf(request: Request, submitted: str | None) -> None:
    """Refuse a state change whose token does not match the cookie (403)."""
    cookie = request.cookies.get(CSRF_COOKIE, "")
    candidate = submitted or request.headers.get(CSRF_HEADER, "")
    if not cookie or not candidate or not hmac.compare_digest(cookie, candidate):
        raise PermissionDenied(
            "The form's security token is missing or stale: reload the page and try again"
        )
