"""The Jinja2 environment (autoescaping on) and the page renderer shared by every view."""

from __future__ import annotations

import json
import time
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse

from mltrail.server.ui import formatting
from mltrail.server.ui.markdown import render_markdown
from mltrail.server.ui.security import csrf_token_for, set_csrf_cookie
from mltrail.server.ui.viewer import may_manage_experiment, viewer
from mltrail.version import __version__

if TYPE_CHECKING:
    from jinja2 import Environment

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"


def _to_json(value: Any) -> str:
    # Safe inside <script type="application/json">: no "<", ">", "&" or "'" survive.
    text = json.dumps(value, allow_nan=False, separators=(",", ":"))
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("'", "\\u0027")
    )


@lru_cache(maxsize=1)
def environment() -> Environment:
    # Imported on the first page, not with the app: a worker that only serves the API
    # (most of them) saves the ~11 MiB Jinja2 takes.
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=select_autoescape(["html"], default_for_string=True, default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = formatting.format_number
    env.filters["time"] = formatting.format_time
    env.filters["isotime"] = formatting.iso_time
    env.filters["markdown"] = render_markdown
    env.filters["json_data"] = _to_json
    env.globals["duration"] = formatting.format_duration
    env.globals["version"] = __version__
    env.globals["viewer"] = viewer
    env.globals["may_manage_experiment"] = may_manage_experiment
    return env


def base_path(request: Request) -> str:
    """The URL prefix the app is served under (``--static-prefix``), '' at the root."""
    root: str = request.scope.get("root_path", "")
    return root.rstrip("/")


def url_with(request: Request, path: str, **params: Any) -> str:
    """A URL under the app's prefix; params with None/'' values are left out."""
    query: list[tuple[str, str]] = []
    for key, value in params.items():
        values = value if isinstance(value, list | tuple) else [value]
        query.extend((key, str(v)) for v in values if v is not None and v is not False)
    query = [(k, v) for k, v in query if v != "" or k == "col"]
    return base_path(request) + path + ("?" + urlencode(query) if query else "")


def render(
    request: Request, template: str, *, status_code: int = 200, **context: Any
) -> HTMLResponse:
    now_ms = int(time.time() * 1000)
    base = base_path(request)
    page = (
        environment()
        .get_template(template)
        .render(
            request=request,
            base=base,
            csrf_token=csrf_token_for(request),
            now_ms=now_ms,
            ago=lambda ms: formatting.relative_time(ms, now_ms=now_ms),
            url=lambda path, **p: url_with(request, path, **p),
            **context,
        )
    )
    response = HTMLResponse(page, status_code=status_code)
    set_csrf_cookie(request, response)
    return response
