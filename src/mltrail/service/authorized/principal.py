"""The caller of the current request, and the refusal of methods without a rule."""

from __future__ import annotations

from typing import Any

from mltrail.errors import PermissionDenied, Unauthenticated
from mltrail.service.permissions import PermissionService, Principal, current_principal


def principal() -> Principal:
    found = current_principal()
    if found is None:
        raise Unauthenticated("Authentication required")
    return found


def refuse_unknown(name: str) -> PermissionDenied:
    return PermissionDenied(f"Permission denied ({name} has no authorization rule)")


class AdminUnlessChecked:
    """A service wrapper that fails closed: what a subclass defines carries its own checks;
    any other attribute of the inner service is for administrators only."""

    def __init__(self, inner: Any, *, permissions: PermissionService) -> None:
        self.inner = inner
        self.permissions = permissions

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if not principal().is_admin:
            raise refuse_unknown(name)
        return getattr(self.inner, name)
