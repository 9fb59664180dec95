"""Users whose imported password is weak must change it before doing anything else.

Signed in with that password (a browser session or HTTP Basic), such a user reaches only
what changing it takes: the account page and its password form, logging out, and the
password-change endpoints of both APIs. Pages redirect to the account page; API calls are
refused with a message that says what to do. API tokens are not affected.
"""

from __future__ import annotations

import re

from starlette.types import Scope

from mltrail.server.middleware import route_path

ACCOUNT_PAGE = "/account/tokens"
_ALLOWED = re.compile(
    r"^(/account/tokens|/account/password|/logout|/api/v1/users/me|/api/v1/users/[^/]+"
    r"|/(ajax-)?api/2\.0/mlflow/users/(update-password|current))$"
)


def may_pass(scope: Scope) -> bool:
    return scope.get("method") != "DELETE" and bool(_ALLOWED.match(route_path(scope)))


def message(username: str) -> str:
    return (
        f"The password of {username} was imported from an htpasswd file and is too weak: it "
        "must be changed before it can be used. Sign in to the dashboard and choose a new "
        "one (Your account), or ask an admin (`mltrail users passwd "
        f"{username}`). API tokens are not affected."
    )
