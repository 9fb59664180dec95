"""The server writes uvicorn's access line itself (uvicorn's own is off under the runner)."""

from __future__ import annotations

import io
import logging

import pytest
from uvicorn.logging import AccessFormatter

from mltrail.server.logs import AccessLog


@pytest.mark.parametrize(
    ("path", "query", "status"),
    [
        ("/api/2.0/mlflow/runs/log-metric", b"", 200),
        ("/api/2.0/mlflow/runs/get", b"run_id=abc&x=%20y", 404),
        ('/static/a%20"b.js', b"", 599),
    ],
)
def test_the_line_is_uvicorns(path: str, query: bytes, status: int) -> None:
    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "raw_path": path.encode("latin-1"),
        "root_path": "",
        "query_string": query,
        "http_version": "1.1",
        "client": ("127.0.0.1", 53210),
    }
    out = io.StringIO()
    AccessLog(out).write(scope, status)

    # What uvicorn's access logger writes for the same request (httptools_impl, uncoloured).
    from uvicorn.protocols.utils import get_client_addr, get_path_with_query_string

    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 0, '%s - "%s %s HTTP/%s" %d',
        (get_client_addr(scope), "GET", get_path_with_query_string(scope), "1.1", status), None,
    )  # fmt: skip
    formatter = AccessFormatter(
        '%(levelprefix)s %(client_addr)s - "%(request_line)s" %(status_code)s', use_colors=False
    )
    assert out.getvalue() == formatter.format(record) + "\n"
