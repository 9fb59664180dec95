"""Who is looking at a page, for the templates: the signed-in user and what they may manage.

With ``--no-auth`` there is no signed-in user: the header shows no account menu and the
sharing dialog is not offered (there is no one to share with).
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from mltrail.errors import MltrailError
from mltrail.server.services import services_of


@dataclass(frozen=True)
class Viewer:
    username: str
    is_admin: bool


def viewer(request: Request) -> Viewer | None:
    """The signed-in user of a request the auth layer let through (None without auth)."""
    from mltrail.server.caller import caller_of

    caller = caller_of(request.scope)
    if caller is None or caller.principal.user_id is None:
        return None
    return Viewer(caller.principal.username, caller.principal.is_admin)


def may_manage_experiment(request: Request, experiment_id: str) -> bool:
    """Whether the signed-in user may change who can see the experiment (MANAGE)."""
    from mltrail.server.caller import caller_of
    from mltrail.service.permissions import Level

    caller = caller_of(request.scope)
    state = services_of(request).auth
    if caller is None or state is None or caller.principal.user_id is None:
        return False
    try:
        state.permissions.require_experiment(caller.principal, experiment_id, Level.MANAGE)
    except MltrailError:
        return False
    return True
