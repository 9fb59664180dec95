"""Reading UI form posts (url-encoded) and checking their CSRF token."""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import RedirectResponse

from mltrail.errors import BadRequest
from mltrail.server.ui.security import CSRF_FIELD, check_csrf
from mltrail.server.ui.templating import base_path

MAX_FORM_BYTES = 1 << 20


class Form:
    def __init__(self, fields: dict[str, list[str]]) -> None:
        self._fields = fields

    def get(self, name: str, default: str = "") -> str:
        values = self._fields.get(name)
        return values[0] if values else default

    def all(self, name: str) -> list[str]:
        return list(self._fields.get(name, []))


async def checked_form(request: Request) -> Form:
    """The posted fields, once the CSRF token (field or header) matched the cookie."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise BadRequest("The form is too large")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest("The form is not valid UTF-8") from exc
    fields = parse_qs(text, keep_blank_values=True) if text else {}
    submitted = fields.get(CSRF_FIELD)
    check_csrf(request, submitted[0] if submitted else None)
    return Form(fields)


def redirect(request: Request, path: str) -> RedirectResponse:
    """Post/redirect/get to a path of this app; only local paths are accepted."""
    if not path.startswith("/") or path.startswith("//"):
        path = "/"
    return RedirectResponse(base_path(request) + path, status_code=303)


def local_return_path(request: Request, candidate: str, *, fallback: str) -> str:
    """The page to go back to after a POST: a same-app path from the form, else the fallback."""
    base = base_path(request)
    if base and candidate.startswith(base + "/"):
        candidate = candidate[len(base) :]
    if candidate.startswith("/") and not candidate.startswith("//") and "\\" not in candidate:
        return candidate
    return fallback
