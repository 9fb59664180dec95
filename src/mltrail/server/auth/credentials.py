"""Reading credentials from a request: HTTP Basic, Bearer tokens, the session cookie."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from mltrail.errors import BadRequest

SESSION_COOKIE = "mltrail_session"
MAX_AUTHORIZATION_BYTES = 8192


@dataclass(frozen=True)
class Basic:
    username: str
    secret: str


@dataclass(frozen=True)
class Bearer:
    token: str


def parse_authorization(raw: bytes) -> Basic | Bearer:
    """The credentials of an ``Authorization`` header; BadRequest for a malformed one."""
    if len(raw) > MAX_AUTHORIZATION_BYTES:
        raise BadRequest("The Authorization header is too long")
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError as exc:
        raise BadRequest("The Authorization header is not ASCII") from exc
    scheme, _, value = text.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer":
        if not value or any(c.isspace() for c in value):
            raise BadRequest("Malformed Bearer credentials")
        return Bearer(value)
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, ValueError) as exc:
            raise BadRequest("Malformed Basic credentials (not base64 of UTF-8)") from exc
        username, sep, secret = decoded.partition(":")
        if not sep or not username:
            raise BadRequest("Malformed Basic credentials (expected user:password)")
        return Basic(username, secret)
    raise BadRequest("Unsupported Authorization scheme (use Basic or Bearer)")


def cookie_value(raw_cookie_header: str, name: str) -> str:
    from http.cookies import CookieError, SimpleCookie

    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw_cookie_header)
    except CookieError:
        return ""
    morsel = jar.get(name)
    return morsel.value if morsel is not None else ""
