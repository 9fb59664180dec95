"""A metric value from user input as the float it is stored as, or a clear error."""

from __future__ import annotations

from typing import Any

from mltrail.errors import InvalidParameterValue, MetricValueOutOfRange


def metric_number(key: str, value: Any) -> float:
    try:
        return float(value)
    except OverflowError:
        raise MetricValueOutOfRange(
            f"Got value {_short(value)} for metric {key!r}: metric values must fit a 64-bit "
            "float (at most about 1.8e308 in size; float('inf') stands for infinity)"
        ) from None
    except (TypeError, ValueError):
        raise InvalidParameterValue(
            f"Got invalid value {_short(value)} for metric {key!r} (expected a number)"
        ) from None


def _short(value: Any) -> str:
    if isinstance(value, int) and value.bit_length() > 128:
        # str() of a very large int is slow, and refused past 4,300 digits.
        return f"an integer of about {round(value.bit_length() * 0.30103)} digits"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
