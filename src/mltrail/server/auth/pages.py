"""The login and logout pages (plain server-rendered HTML, the UI's security headers).

Logging in always issues a new session id (a session id planted before login is never
promoted), stored hashed server-side; the cookie is HttpOnly, SameSite=Lax, Secure under
TLS and expires with the session. The form is protected by the UI's double-submit CSRF
token, so another site cannot log a browser into an account of its choosing.
"""

from __future__ import annotations

import html

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, RedirectResponse, Response

from mltrail.errors import MltrailError
from mltrail.server.access import access
from mltrail.server.auth.credentials import SESSION_COOKIE
from mltrail.server.services import auth_state
from mltrail.server.ui.forms import checked_form, local_return_path
from mltrail.server.ui.security import apply_security_headers, csrf_token_for, set_csrf_cookie
from mltrail.server.ui.templating import base_path

router = APIRouter()

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · mltrail</title>
<link rel="icon" href="{base}/static/favicon.svg" type="image/svg+xml">
<meta name="mltrail-base" content="{base}">
<link rel="stylesheet" href="{base}/static/css/mltrail.css">
<script src="{base}/static/js/hashroutes.js"></script></head>
<body><main id="main" class="login">
<h1>Sign in to mltrail</h1>
{error}
<form method="post" action="{base}/login">
<input type="hidden" name="csrf_token" value="{csrf}">
<input type="hidden" name="next" value="{next}">
<label>User name <input name="username" autocomplete="username" required autofocus></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Sign in</button>
</form></main></body></html>
"""


def _login_page(
    request: Request, *, next_path: str, error: str = "", status: int = 200
) -> Response:
    csrf = csrf_token_for(request)
    body = _PAGE.format(
        base=html.escape(base_path(request)),
        csrf=html.escape(csrf),
        next=html.escape(next_path),
        error=f'<p class="error" role="alert">{html.escape(error)}</p>' if error else "",
    )
    response = HTMLResponse(body, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    set_csrf_cookie(request, response)
    return apply_security_headers(response)


@router.get("/login", include_in_schema=False, openapi_extra=access("public"))
def login_form(request: Request, next: str = "/") -> Response:
    return _login_page(request, next_path=local_return_path(request, next, fallback="/"))


@router.post("/login", include_in_schema=False, openapi_extra=access("public"))
async def login(request: Request) -> Response:
    state = auth_state(request.app)
    try:
        form = await checked_form(request)
    except MltrailError as exc:
        return _login_page(request, next_path="/", error=exc.message, status=exc.status)
    next_path = local_return_path(request, form.get("next"), fallback="/")
    address = request.client.host if request.client else "unknown"
    try:
        user = await run_in_threadpool(
            state.auth.authenticate_password,
            form.get("username"),
            form.get("password"),
            address=address,
        )
    except MltrailError as exc:
        return _login_page(request, next_path=next_path, error=exc.message, status=exc.status)
    old = request.cookies.get(SESSION_COOKIE, "")
    if old:
        await run_in_threadpool(state.auth.end_session, old)
    value, _ = await run_in_threadpool(state.auth.start_session, user)
    response = RedirectResponse(base_path(request) + next_path, status_code=303)
    set_session_cookie(request, response, value=value, max_age=state.auth.session_seconds)
    return apply_security_headers(response)


def set_session_cookie(request: Request, response: Response, *, value: str, max_age: int) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path=base_path(request) or "/",
    )


@router.post("/logout", include_in_schema=False, openapi_extra=access("ui:page"))
async def logout(request: Request) -> Response:
    state = auth_state(request.app)
    await checked_form(request)
    value = request.cookies.get(SESSION_COOKIE, "")
    if value:
        await run_in_threadpool(state.auth.end_session, value)
    response = RedirectResponse(base_path(request) + "/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=base_path(request) or "/")
    return apply_security_headers(response)
