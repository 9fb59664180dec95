"""The one place that turns exceptions into HTTP answers.

Every answer has the shape ``{"error_code": ..., "message": ...}``. Typed mltrail errors keep
their status; malformed input is a 400; a lost database connection is a 503; anything else
is a 500 with a generic message (the traceback goes to the server log, never to the client).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from mltrail.errors import MltrailError

logger = logging.getLogger("mltrail.server")

_HTTP_CODES = {
    404: "ENDPOINT_NOT_FOUND",
    405: "BAD_REQUEST",
    413: "REQUEST_LIMIT_EXCEEDED",
    429: "REQUEST_LIMIT_EXCEEDED",
}


def error_response(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"error_code": code, "message": message}
    body.update(extra)
    return JSONResponse(body, status_code=status)


def _mltrail_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, MltrailError)
    if exc.status >= 500:
        logger.warning("%s: %s", exc.code, exc.message)
    return JSONResponse(exc.to_dict(), status_code=exc.status)


def describe_validation_errors(errors: Sequence[Any]) -> tuple[str, str]:
    """(error code, message) for pydantic/FastAPI validation errors, naming the fields."""
    parts: list[str] = []
    code = "INVALID_PARAMETER_VALUE"
    for err in errors:
        kind = err.get("type", "")
        if kind == "json_invalid":
            detail = err.get("ctx", {}).get("error", "invalid JSON")
            return "BAD_REQUEST", f"Malformed JSON in the request body: {detail}"
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "header")]
        field = ".".join(loc) or "request body"
        if kind == "missing":
            parts.append(f"Missing value for required parameter '{field}'")
        else:
            parts.append(f"Invalid value for parameter '{field}': {err.get('msg', 'invalid')}")
    return code, "; ".join(parts) or "Invalid request"


def _validation_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    code, message = describe_validation_errors(exc.errors())
    return error_response(400, code, message)


def _http_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(
        exc.status_code, "BAD_REQUEST" if exc.status_code < 500 else "INTERNAL_ERROR"
    )
    message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    if exc.status_code == 404 and message == "Not Found":
        message = "No such endpoint"
    return JSONResponse(
        {"error_code": code, "message": message},
        status_code=exc.status_code,
        headers=dict(exc.headers) if exc.headers else None,
    )


def _database_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DBAPIError)
    if isinstance(exc, OperationalError) or exc.connection_invalidated:
        logger.warning(
            "database unavailable: %s", str(exc.orig).splitlines()[0] if exc.orig else exc
        )
        return error_response(
            503, "TEMPORARILY_UNAVAILABLE", "The tracking database is unavailable; try again later"
        )
    logger.error("Database error on %s %s", _request.method, _request.url.path, exc_info=exc)
    return _internal_answer()


def _internal_answer() -> Response:
    return error_response(500, "INTERNAL_ERROR", "Internal server error; see the server log")


def _internal_error(request: Request, exc: Exception) -> Response:
    # Starlette re-raises after answering and uvicorn logs the traceback: one line here is enough.
    logger.error("Unexpected %s on %s %s", type(exc).__name__, request.method, request.url.path)
    return _internal_answer()


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(MltrailError, _mltrail_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(DBAPIError, _database_error)
    # Handled by Starlette's outermost middleware (so errors of our own middlewares land here too).
    app.add_exception_handler(Exception, _internal_error)
