"""The caller of the current request, and the refusal of methods without a rule."""

from __future__ import annotations

from mltrail.errors import PermissionDenied, Unauthenticated
from mltrail.service.permissions import Principal, current_principal


def principal() -> Principal:
    found = current_principal()
    if found is None:
        raise Unauthenticated("Authentication required")
    return found


def refuse_unknown(name: str) -> PermissionDenied:
    return PermissionDenied(f"Permission denied ({name} has no authorization rule)")
