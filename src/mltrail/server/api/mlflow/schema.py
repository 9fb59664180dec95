"""MLflow's request-field checks: each route's fields checked in MLflow's order and words.

MLflow's handlers validate a request against a per-route schema before doing anything
else: the fields in the order the schema lists them, each through its checks in order,
and the first failure is the answer. A route declares the same schema here
(``@router.rpc(..., schema=(("run_id", REQUIRED, STRING), ...))``), so that a request
with several bad fields is refused for the same field, with the same message, as MLflow
refuses it:

* ``Missing value for required parameter 'key'.`` (absent, null or the empty string);
* ``Invalid value 31 for parameter 'run_id' supplied:  Hint: Value was of type 'int'.``

each followed by `` See the API docs for more information about request parameters.``

A field that is absent (or null) is skipped unless it is REQUIRED; ``run_id`` falls back
to the legacy ``run_uuid``. Enum fields take a name or a proto number (MLflow checks them
only when its proto parse fails, which a name or a number never makes it do).
"""

from __future__ import annotations

import json
import reprlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from mltrail.errors import InvalidParameterValue, clipped

DOCS_HINT = "See the API docs for more information about request parameters."

# One check: (field name, value) -> None, or raise AssertionError (with a message, or
# without one for MLflow's generic "invalid value" message), as MLflow's checks do. Never
# an ``assert`` statement: ``python -O`` would drop the check.
Check = Callable[[str, Any], None]
FieldSpec = tuple[Any, ...]  # (name, *checks)
Schema = Sequence[FieldSpec]


def _shown(value: Any) -> str:
    """MLflow's rendering of a bad value, bounded: a body may nest a thousand levels deep or
    hold megabytes."""
    try:
        shown = json.dumps(value, sort_keys=True, separators=(",", ":"))
    except (RecursionError, TypeError, ValueError):
        return reprlib.repr(value)
    return clipped(shown)


def _invalid_text(name: str, value: Any) -> str:
    shown = _shown(value)
    return (
        f"Invalid value {shown} for parameter '{name}' supplied:  Hint: Value was of type "
        f"'{type(value).__name__}'."
    )


def _missing_text(name: str) -> str:
    return f"Missing value for required parameter '{name}'."


def invalid_value_message(name: str, value: Any) -> str:
    return f"{_invalid_text(name, value)} {DOCS_HINT}"


def missing_value_message(name: str) -> str:
    return f"{_missing_text(name)} {DOCS_HINT}"


def REQUIRED(name: str, value: Any) -> None:
    if value is None or value == "":
        raise InvalidParameterValue(missing_value_message(name))


def _fail() -> AssertionError:
    return AssertionError()


def STRING(name: str, value: Any) -> None:
    if not isinstance(value, str):
        raise _fail()


def INT(name: str, value: Any) -> None:
    # MLflow's _assert_intlike: whatever int() takes (an integral string, a float).
    if isinstance(value, int):
        return
    try:
        int(value)
    except (TypeError, ValueError, OverflowError):
        raise AssertionError from None


def FLOAT(name: str, value: Any) -> None:
    if isinstance(value, (int, float)):
        return
    try:
        float(value)
    except (TypeError, ValueError):
        raise AssertionError from None


def BOOL(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise _fail()


def ARRAY(name: str, value: Any) -> None:
    if not isinstance(value, list):
        raise _fail()


def STRING_ITEMS(name: str, value: Any) -> None:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _fail()


def ENUM(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise _fail()


def at_most(limit: int, *, message: str | None = None) -> Check:
    """MLflow's ``_assert_less_than_or_equal(int(x), limit)`` (after INT has passed)."""

    def check(name: str, value: Any) -> None:
        if int(value) > limit:
            raise AssertionError(message) if message else AssertionError()

    return check


def between(low: int, high: int, *, message: str) -> Check:
    def check(name: str, value: Any) -> None:
        if not low <= int(value) <= high:
            raise AssertionError(message)

    return check


def count_at_most(limit: int, *, message: Callable[[int], str]) -> Check:
    def check(name: str, value: Any) -> None:
        if len(value) > limit:
            raise AssertionError(message(len(value)))

    return check


# The type each check passes without a call (the common case of a well-formed request).
_FAST_PASS: dict[Check, type] = {STRING: str, INT: int, FLOAT: float, ARRAY: list}


def validate(data: Mapping[str, Any], schema: Schema, *, from_query: bool = False) -> None:
    """Raise InvalidParameterValue for the first field of ``schema`` that ``data`` fails.

    Runs on every request of a route (log_metric's included), so the usual case, a present
    field of the right type, costs one dictionary look-up.
    """
    for spec in schema:
        name = spec[0]
        value = data.get(name)
        if value is None and name == "run_id":
            value = data.get("run_uuid")
        if value is None or value == "":
            if REQUIRED in spec:
                raise InvalidParameterValue(missing_value_message(name))
            if value is None:
                continue  # absent or null: unset, as in MLflow's proto parse
        if from_query and isinstance(value, list):
            # Query strings hold lists; MLflow keeps them for repeated fields, else the first.
            value = value if (ARRAY in spec or STRING_ITEMS in spec) else value[0]
        for check in spec[1:]:
            if check is REQUIRED or _FAST_PASS.get(check) is value.__class__:
                continue
            try:
                check(name, value)
            except AssertionError as failed:
                text = failed.args[0] if failed.args else None
                if text:
                    raise InvalidParameterValue(f"{text} {DOCS_HINT}") from None
                raise InvalidParameterValue(invalid_value_message(name, value)) from None


def entries_have(*keys: str) -> Check:
    """Every entry of a list names each of ``keys`` (MLflow's log-batch field checks)."""

    def check(name: str, value: Any) -> None:
        for index, entry in enumerate(value):
            if not isinstance(entry, dict):
                raise AssertionError(_invalid_text(f"{name}[{index}]", entry))
            for key in keys:
                if entry.get(key) is None or entry.get(key) == "":
                    raise AssertionError(_missing_text(f"{name}[{index}].{key}"))

    return check
