"""The signed-in user's account page: their API tokens (list, create, revoke) and their password.

Only served with authentication on (:func:`mltrail.server.auth.install_auth` adds the router).
A new token is shown once, in the answer to the form that created it (``no-store``), and
never again: the server keeps only its digest.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from mltrail.errors import InvalidParameterValue, MltrailError
from mltrail.server.services import auth_state
from mltrail.server.ui.forms import checked_form, redirect
from mltrail.server.ui.routing import EDIT, PAGE, PageRoute
from mltrail.server.ui.templating import render
from mltrail.service.auth import AuthService, NewToken, now_ms
from mltrail.service.authorized import principal

router = APIRouter(route_class=PageRoute)

PATH = "/account/tokens"
NOTICES = {
    "revoked": "The token was revoked; clients using it are refused from now on.",
    "password": "Your password was changed. Your other browser sessions were signed out.",
    "must_change": (
        "Your password was imported from the old server and is too weak for this one "
        "(shorter than 12 characters, or only 8 characters counted). Choose a new one below "
        "to continue."
    ),
}


def auth_service(request: Request) -> AuthService:
    return auth_state(request.app).auth


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def parse_days(text: str) -> float | None:
    """Token lifetime from the form: blank is no expiry."""
    text = text.strip()
    if not text:
        return None
    try:
        days = float(text)
    except ValueError as exc:
        raise InvalidParameterValue(f"Expiry must be a number of days, got {text!r}") from exc
    if not 0 < days <= 36_500:
        raise InvalidParameterValue("Expiry must be between 1 day and 100 years (or blank)")
    return days


def _page(
    request: Request,
    *,
    new_token: NewToken | None = None,
    error: str = "",
    status_code: int = 200,
    **extra: Any,
) -> Response:
    who = principal()
    tokens = auth_service(request).list_tokens(who.username)
    notice = NOTICES.get(request.query_params.get("done", ""), "")
    response = render(
        request,
        "account_tokens.html",
        status_code=status_code,
        title="Your account",
        username=who.username,
        tokens=sorted(tokens, key=lambda t: -t.created_at),
        new_token=new_token,
        error=error,
        notice=notice,
        now=now_ms(),
        **extra,
    )
    # The page may show a secret once; it must not come back from a cache or history.
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get(PATH, include_in_schema=False, openapi_extra=PAGE)
def tokens_page(request: Request) -> Response:
    return _page(request)


@router.post(PATH, include_in_schema=False, openapi_extra=EDIT)
async def create_token(request: Request) -> Response:
    form = await checked_form(request)
    name = form.get("name").strip()
    try:
        days = parse_days(form.get("expires_days"))
        token = await run_in_threadpool(
            auth_service(request).create_token,
            principal().username,
            name=name,
            expires_in_days=days,
        )
    except MltrailError as exc:
        return await run_in_threadpool(
            _page, request, error=exc.message, status_code=exc.status, form_name=name
        )
    return await run_in_threadpool(_page, request, new_token=token)


@router.post(PATH + "/revoke", include_in_schema=False, openapi_extra=EDIT)
async def revoke_token(request: Request) -> Response:
    form = await checked_form(request)
    await run_in_threadpool(
        auth_service(request).revoke_token, principal().username, name=form.get("name")
    )
    return redirect(request, PATH + "?done=revoked")


@router.post("/account/password", include_in_schema=False, openapi_extra=EDIT)
async def change_password(request: Request) -> Response:
    from mltrail.server.auth.credentials import SESSION_COOKIE
    from mltrail.server.auth.pages import set_session_cookie

    form = await checked_form(request)
    auth = auth_service(request)
    username = principal().username
    new = form.get("new_password")
    try:
        if new != form.get("new_password_repeat"):
            raise InvalidParameterValue("The two new passwords differ")
        # The current password is asked again (and throttled like a login), so a session
        # left open on a shared machine cannot be turned into a takeover.
        await run_in_threadpool(
            auth.authenticate_password,
            username,
            form.get("current_password"),
            address=client_address(request),
        )
        await run_in_threadpool(auth.set_password, username, new)
    except MltrailError as exc:
        status = 400 if exc.status == 401 else exc.status
        message = "The current password is wrong" if exc.status == 401 else exc.message
        return await run_in_threadpool(
            _page, request, error=message, status_code=status, password_error=True
        )
    # Changing the password ended every session of the user, this one too: start a new
    # one for this browser.
    user = await run_in_threadpool(auth.get_user, username)
    await run_in_threadpool(auth.end_session, request.cookies.get(SESSION_COOKIE, ""))
    value, _ = await run_in_threadpool(auth.start_session, user)
    response = redirect(request, PATH + "?done=password")
    set_session_cookie(request, response, value=value, max_age=auth.session_seconds)
    return response
