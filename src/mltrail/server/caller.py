"""Who is calling: the principal the auth middleware authenticated, kept on the request scope
(and the browser session it came with, if any)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mltrail.service.auth import Session
from mltrail.service.permissions import Principal


@dataclass
class Caller:
    principal: Principal
    session: Session | None = None
    # Signed in with a password that must be changed first (see password_change).
    must_change_password: bool = False


def caller_of(scope: Any) -> Caller | None:
    found = scope.get("mltrail.caller")
    return found if isinstance(found, Caller) else None
