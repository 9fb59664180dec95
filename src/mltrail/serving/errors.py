"""Errors of the scoring server that the shared error tree has no status for."""

from __future__ import annotations

from mltrail.errors import BadRequest, MltrailError, RequestTooLarge


class UnsupportedMediaType(BadRequest):
    """A request body in a content type the scoring protocol does not have."""

    status = 415


class TooManyRows(RequestTooLarge):
    """More rows in one request than ``--max-batch-rows`` allows."""


class ScoringTimeout(MltrailError):
    """The model did not answer within ``--timeout`` seconds."""

    code = "DEADLINE_EXCEEDED"
    status = 504


class MalformedBody(BadRequest):
    """A body that is not valid JSON or CSV."""


def error_kind(exc: BaseException) -> str:
    """The ``kind`` label of ``mltrail_serving_errors_total`` for a failed request."""
    from mltrail.errors import InvalidParameterValue

    if isinstance(exc, MalformedBody):
        return "bad_json" if "JSON" in str(exc) else "bad_csv"
    if isinstance(exc, UnsupportedMediaType):
        return "content_type"
    if isinstance(exc, TooManyRows):
        return "too_many_rows"
    if isinstance(exc, RequestTooLarge):
        return "too_large"
    if isinstance(exc, ScoringTimeout):
        return "timeout"
    if isinstance(exc, InvalidParameterValue):
        return "schema"
    if isinstance(exc, BadRequest):
        return "bad_input"
    return "model_error"
