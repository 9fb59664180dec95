"""The one error tree of mltrail.

Every error carries a stable ``code`` (the MLflow error-code names, so that the
mlflow client understands them) and the HTTP ``status`` the server answers with.
Code below the server raises these; one handler in the server renders them.
"""

from __future__ import annotations

import reprlib
from typing import Any, ClassVar

# How much of a bad value an error message repeats.
SHOWN_MAX = 100


def clipped(text: str, *, limit: int = SHOWN_MAX) -> str:
    """``text`` whole when short, else its start and its length: a request may hold megabytes,
    or a number hundreds of digits long, and the message should not repeat it."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


def shown(value: object) -> str:
    """``repr(value)`` for an error message, clipped."""
    try:
        text = repr(value)
    except (ValueError, RecursionError):  # an int past Python's digit limit, a deep list
        text = reprlib.repr(value)
    return clipped(text)


class MltrailError(Exception):
    """Base of every error mltrail raises on purpose."""

    code: ClassVar[str] = "INTERNAL_ERROR"
    status: ClassVar[int] = 500

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error_code": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return body


class InvalidParameterValue(MltrailError):
    code = "INVALID_PARAMETER_VALUE"
    status = 400


class MalformedFilter(InvalidParameterValue):
    """A search filter or order-by clause that does not parse; ``position`` points at the problem."""

    def __init__(self, message: str, *, text: str, position: int) -> None:
        pointer = f"{text}\n{' ' * position}^"
        super().__init__(
            f"{message} (at character {position + 1})\n{pointer}",
            details={"filter": text, "position": position},
        )
        self.text = text
        self.position = position


class MetricValueOutOfRange(InvalidParameterValue):
    """A metric value that no 64-bit float holds (such as ``10**400``)."""


class ParamOverwrite(InvalidParameterValue):
    """A param was logged again with a different value (params are write-once)."""

    @classmethod
    def changing(cls, *, key: str, old: str, new: str, run_id: str) -> ParamOverwrite:
        return cls(
            "Changing param values is not allowed. "
            f"Param with key='{key}' was already logged with value='{old}' "
            f"for run ID='{run_id}'. Attempted logging new value '{new}'."
        )


class BadRequest(MltrailError):
    code = "BAD_REQUEST"
    status = 400


class MalformedRequest(BadRequest):
    """A request body that cannot be read: not JSON, nested too deep, not valid Unicode."""


class UnsupportedMediaType(MltrailError):
    """A JSON route was sent a body of another type (a form or plain text)."""

    code = "INVALID_PARAMETER_VALUE"
    status = 415


class InvalidState(MltrailError):
    """The object exists but is not in a state that allows the operation (e.g. deleted)."""

    code = "INVALID_STATE"
    status = 400


class ResourceDoesNotExist(MltrailError):
    code = "RESOURCE_DOES_NOT_EXIST"
    status = 404


class ResourceAlreadyExists(MltrailError):
    # MLflow answers 400, not 409, and its client relies on it.
    code = "RESOURCE_ALREADY_EXISTS"
    status = 400


class Unauthenticated(MltrailError):
    code = "UNAUTHENTICATED"
    status = 401


class PermissionDenied(MltrailError):
    code = "PERMISSION_DENIED"
    status = 403


class RequestTooLarge(MltrailError):
    code = "REQUEST_LIMIT_EXCEEDED"
    status = 413


class TooManyRequests(MltrailError):
    code = "REQUEST_LIMIT_EXCEEDED"
    status = 429

    def __init__(
        self, message: str, *, retry_after: int | None = None, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message, details=details)
        # Seconds after which trying again may succeed (the Retry-After header), if known.
        self.retry_after = retry_after


class TemporarilyUnavailable(MltrailError):
    """The database or another dependency is down; retrying later may succeed."""

    code = "TEMPORARILY_UNAVAILABLE"
    status = 503


class StorageFull(MltrailError):
    """The disk under the database or the artifacts is full; nothing partial was kept."""

    code = "TEMPORARILY_UNAVAILABLE"
    status = 507


class SchemaMismatch(MltrailError):
    """The database schema is at a revision this version of mltrail does not know."""

    code = "INVALID_STATE"
    status = 500


class ConnectionFailed(MltrailError):
    """The client could not reach the tracking server (after its retries)."""

    code = "TEMPORARILY_UNAVAILABLE"
    status = 503


class TrackingServerUnreachable(ConnectionFailed):
    """Nothing answers at the tracking URI, and nothing ever did in this process (a wrong
    host or port, a server not started)."""


class ArtifactSpoolFull(MltrailError):
    """An artifact or model the tracking server could not take now does not fit in the
    offline spool (``spool_max_artifact_bytes``); nothing of it was kept."""

    code = "RESOURCE_EXHAUSTED"
    status = 507


class ConfigurationError(MltrailError):
    """A setting, URI or command-line option that cannot work."""

    code = "INVALID_PARAMETER_VALUE"
    status = 400


_BY_CODE: dict[str, type[MltrailError]] = {
    cls.code: cls
    for cls in (
        InvalidParameterValue,
        BadRequest,
        InvalidState,
        ResourceDoesNotExist,
        ResourceAlreadyExists,
        Unauthenticated,
        PermissionDenied,
        TemporarilyUnavailable,
    )
}


def from_code(code: str, message: str, *, status: int | None = None) -> MltrailError:
    """Rebuild a typed error from a server answer (used by the REST client)."""
    if status == 413:
        return RequestTooLarge(message)
    if status == 429:
        return TooManyRequests(message)
    if status == 507:
        return StorageFull(message)
    cls = _BY_CODE.get(code, MltrailError)
    return cls(message)
