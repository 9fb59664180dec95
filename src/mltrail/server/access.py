"""Authorization rules of routes: how a route declares one and how it is read back.

Every route of the app carries its rule in ``route.openapi_extra["x-mltrail-access"]``
(the MLflow adapter's convention, used by the native API, the UI and the auth routes too):

* ``"public"``: anyone, without credentials (health, login page, static files);
* ``"admin"``: administrators only;
* ``"authenticated"``: any signed-in user (what they may then touch is checked per
  resource by the authorized services);
* ``"<resource>:<action>"``: a signed-in user; the resource-level check happens in the
  service on the ids the call really uses. Resources: experiment, run, logged_model,
  registered_model, artifact, user, token, permission, ui; actions: read, edit, delete,
  manage, create, self, page, data.

A route without a rule, or with a rule that does not parse, is refused (fail closed).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

ACCESS_KEY = "x-mltrail-access"
PUBLIC = "public"
ADMIN = "admin"
AUTHENTICATED = "authenticated"

RESOURCES = frozenset(
    {
        "experiment",
        "run",
        "logged_model",
        "registered_model",
        "artifact",
        "user",
        "token",
        "permission",
        "ui",
    }
)
ACTIONS = frozenset({"read", "edit", "delete", "manage", "create", "self", "page", "data"})


def access(rule: str) -> dict[str, Any]:
    """``openapi_extra`` for a route decorator: ``@router.get(..., openapi_extra=access("admin"))``."""
    if not is_valid(rule):
        raise ValueError(f"Unknown authorization rule {rule!r}")
    return {ACCESS_KEY: rule}


def is_valid(rule: object) -> bool:
    if not isinstance(rule, str):
        return False
    if rule in (PUBLIC, ADMIN, AUTHENTICATED):
        return True
    resource, sep, action = rule.partition(":")
    return bool(sep) and resource in RESOURCES and action in ACTIONS


def effective_routes(routes: Iterable[Any]) -> Iterator[Any]:
    """Every route a request can reach, in matching order.

    FastAPI keeps included routers as nested branches; their routes are yielded one by one
    (each has ``matches(scope)`` and its resolved ``openapi_extra``).
    """
    for route in routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if callable(contexts):
            yield from contexts()
            low = getattr(route, "effective_low_priority_routes", None)
            if callable(low):
                yield from low()
        else:
            yield route


def rule_of(route: Any) -> str | None:
    extra = getattr(route, "openapi_extra", None)
    if extra is None and getattr(route, "original_route", None) is not None:
        extra = getattr(route.original_route, "openapi_extra", None)
    if not isinstance(extra, dict):
        return None
    rule = extra.get(ACCESS_KEY)
    return rule if is_valid(rule) else None
