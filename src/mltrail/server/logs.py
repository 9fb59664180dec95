"""Where the server's own messages go (imported by the supervisor, which has no app)."""

from __future__ import annotations

import http
import logging
import sys
from typing import TextIO
from urllib.parse import quote

from starlette.types import Scope


def configure_logging() -> None:
    """Send mltrail's server messages to stderr beside uvicorn's (once per process)."""
    log = logging.getLogger("mltrail")
    if log.handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s:     [%(name)s] %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)


_PHRASES = {status.value: status.phrase for status in http.HTTPStatus}


class AccessLog:
    """One line per request on stdout, in uvicorn's format (``INFO:     127.0.0.1:53210 -
    "POST /api/2.0/mlflow/runs/log-metric HTTP/1.1" 200 OK``), written by the server itself.

    uvicorn's access log goes through ``logging`` (a record, a copy of it, a formatter) and
    cost about 60 us of CPU per request, a tenth of a ``log_metric`` request's; this writes
    the same line directly. The runner turns uvicorn's off and this on.
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream

    def write(self, scope: Scope, status: int) -> None:
        client = scope.get("client")
        address = f"{client[0]}:{client[1]}" if client else ""
        raw = scope.get("raw_path")
        path = raw.decode("latin-1") if raw else quote(scope.get("root_path", "") + scope["path"])
        query = scope.get("query_string")
        if query:
            path = f"{path}?{query.decode('ascii', 'replace')}"
        path = path.replace('"', "%22")
        stream = self.stream or sys.stdout
        stream.write(
            f'INFO:     {address} - "{scope["method"]} {path} HTTP/{scope["http_version"]}" '
            f"{status} {_PHRASES.get(status, '')}\n"
        )
        stream.flush()
