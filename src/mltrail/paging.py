"""Opaque page tokens: base64 of ``{"offset": n}`` (the shape MLflow uses)."""

from __future__ import annotations

import base64
import binascii
import json

from mltrail.errors import InvalidParameterValue


def encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def decode_token(token: str | None) -> int:
    """The offset a token stands for (0 for no token); a forged token is a 400."""
    if not token:
        return 0
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        offset = data["offset"]
    except (ValueError, KeyError, TypeError, UnicodeError, binascii.Error) as exc:
        raise InvalidParameterValue(f"Invalid page token {token!r}") from exc
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise InvalidParameterValue(f"Invalid page token {token!r}")
    return offset
