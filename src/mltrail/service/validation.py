"""Input rules of the tracking service (MLflow's, so both APIs accept the same things).

Limits:
- metric, param and tag keys: 1..250 characters of letters, digits, ``_ - . / : space``;
  the key must be a normalized relative path (no leading ``/``, no ``.``/``..`` segments
  anywhere, no ``//``; checked by the artifact path check);
- param values: at most 6000 characters; run tag values: at most 8000;
- experiment names: non-blank, at most 256 characters (the column size);
  experiment tag keys as above, values at most 20000 characters;
- metric values: int or float (``bool`` is refused), NaN and +/-inf allowed;
  timestamps: non-negative integers (ms); steps: 64-bit integers;
- batches: limits are parameters of :class:`BatchLimits` (the service allows
  100,000 metrics per batch; the MLflow adapter enforces MLflow's 1000 itself).
"""

from __future__ import annotations

import numbers
import posixpath
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from mltrail.artifacts.paths import escapes_root
from mltrail.entities import Metric, Param, RunTag
from mltrail.errors import InvalidParameterValue, shown

MAX_KEY_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 8000
MAX_EXPERIMENT_NAME_LENGTH = 256
MAX_EXPERIMENT_TAG_VALUE_LENGTH = 20000
MAX_RUN_NAME_LENGTH = 250
MAX_USER_ID_LENGTH = 256
MAX_ARTIFACT_LOCATION_LENGTH = 1024
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

_KEY_RE = re.compile(r"^[/\w.\- :]*$")
_RUN_ID_RE = re.compile(r"^[0-9a-f]{32}$")
_KEY_CHARS_HINT = (
    "Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), "
    "spaces ( ), colon(:) and slashes (/)."
)


@dataclass(frozen=True)
class BatchLimits:
    max_metrics: int = 100_000
    max_params: int = 100
    max_tags: int = 100


def _invalid(message: str) -> InvalidParameterValue:
    return InvalidParameterValue(message)


def validate_key(key: object, *, what: str = "key") -> str:
    if not isinstance(key, str):
        raise _invalid(
            f"Invalid value {key!r} for parameter '{what}' supplied: it must be a string."
        )
    if not key:
        raise _invalid(f"Missing value for required parameter '{what}': it must not be empty.")
    if len(key) > MAX_KEY_LENGTH:
        raise _invalid(
            f"'{what}' exceeds the maximum length of {MAX_KEY_LENGTH} characters (got {len(key)})."
        )
    if not _KEY_RE.match(key):
        raise _invalid(
            f"Invalid value \"{key}\" for parameter '{what}' supplied: {_KEY_CHARS_HINT}"
        )
    if _resolves_elsewhere(key):
        raise _invalid(
            f"Invalid value \"{key}\" for parameter '{what}' supplied: Names may be treated as "
            "files in certain cases, and must not resolve to other names when treated as such. "
            f"This name would resolve to {posixpath.normpath(key)!r}"
        )
    return key


def _resolves_elsewhere(key: str) -> bool:
    """Whether ``key``, taken as a file name below a run's folder, would name something else:
    a ``..`` segment anywhere or a root (the artifact path check), or, as MLflow has it, a
    normal form that differs or starts with ``..``."""
    normal = posixpath.normpath(key)
    return escapes_root(key) is not None or normal != key or normal.startswith("..")


def _validate_text(value: object, *, what: str, limit: int) -> str:
    if not isinstance(value, str):
        raise _invalid(f"Invalid value {value!r} for {what}: it must be a string.")
    if len(value) > limit:
        raise _invalid(
            f"{what} exceeds the maximum length of {limit} characters (got {len(value)})."
        )
    return value


def validate_param(param: Param) -> None:
    validate_key(param.key, what="key")
    _validate_text(
        param.value, what=f"the value of param '{param.key}'", limit=MAX_PARAM_VALUE_LENGTH
    )


def validate_tag(key: object, value: object) -> None:
    validate_key(key, what="key")
    _validate_text(value, what=f"the value of tag '{key}'", limit=MAX_TAG_VALUE_LENGTH)


def validate_experiment_tag(key: object, value: object) -> None:
    validate_key(key, what="key")
    _validate_text(
        value, what=f"the value of experiment tag '{key}'", limit=MAX_EXPERIMENT_TAG_VALUE_LENGTH
    )


def validate_experiment_name(name: object) -> str:
    if not isinstance(name, str):
        raise _invalid(f"Invalid experiment name {name!r}: it must be a string.")
    if not name.strip():
        raise _invalid("Invalid experiment name: it must not be empty or blank.")
    if len(name) > MAX_EXPERIMENT_NAME_LENGTH:
        raise _invalid(
            f"Experiment name exceeds the maximum length of {MAX_EXPERIMENT_NAME_LENGTH} "
            f"characters (got {len(name)})."
        )
    return name


def validate_artifact_location(location: object) -> str:
    return _validate_text(location, what="artifact_location", limit=MAX_ARTIFACT_LOCATION_LENGTH)


def validate_run_id(run_id: object) -> str:
    if not isinstance(run_id, str) or not _RUN_ID_RE.match(run_id):
        raise _invalid(
            f"Invalid run id {run_id!r}: a run id is 32 lowercase hexadecimal characters."
        )
    return run_id


def validate_run_name(run_name: object) -> str:
    return _validate_text(run_name, what="run_name", limit=MAX_RUN_NAME_LENGTH)


def validate_timestamp(value: object, *, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise _invalid(f"Invalid value {value!r} for parameter '{what}': it must be an integer.")
    number = int(value)
    if number < 0 or number > INT64_MAX:
        raise _invalid(f"Invalid value {value!r} for parameter '{what}': out of range.")
    return number


def _metric_problem(metric: Metric) -> str | None:
    value, ts, step = metric.value, metric.timestamp, metric.step
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return f"Got invalid value {shown(value)} for metric '{metric.key}': it must be a number."
    if isinstance(ts, bool) or not isinstance(ts, numbers.Integral) or not 0 <= ts <= INT64_MAX:
        return (
            f"Got invalid timestamp {shown(ts)} for metric '{metric.key}': "
            "it must be a non-negative integer (milliseconds)."
        )
    if isinstance(step, bool) or not isinstance(step, numbers.Integral):
        return f"Got invalid step {shown(step)} for metric '{metric.key}': it must be an integer."
    if not INT64_MIN <= step <= INT64_MAX:
        return f"Got invalid step {shown(step)} for metric '{metric.key}': out of the 64-bit range."
    return None


_FAST_VALUE_TYPES = (float, int)


def validate_metrics(metrics: Sequence[Metric]) -> None:
    """Validate many metrics quickly: a cheap type scan first, exact checks on suspects."""
    suspects = [
        m
        for m in metrics
        if type(m.key) is not str
        or type(m.value) not in _FAST_VALUE_TYPES
        or type(m.timestamp) is not int
        or type(m.step) is not int
        or m.timestamp < 0
        or m.timestamp > INT64_MAX
        or m.step > INT64_MAX
        or m.step < INT64_MIN
    ]
    for m in suspects:
        validate_key(m.key, what="name")
    for key in {m.key for m in metrics}:
        validate_key(key, what="name")
    for m in suspects:
        problem = _metric_problem(m)
        if problem:
            raise _invalid(problem)


def validate_batch(
    *,
    metrics: Sequence[Metric],
    params: Sequence[Param],
    tags: Sequence[RunTag],
    limits: BatchLimits,
) -> None:
    for count, limit, what in (
        (len(metrics), limits.max_metrics, "metrics"),
        (len(params), limits.max_params, "params"),
        (len(tags), limits.max_tags, "tags"),
    ):
        if count > limit:
            raise _invalid(
                f"A batch logging request can contain at most {limit} {what}. Got {count} "
                f"{what}. Please split up {what} across multiple requests and try again."
            )
    validate_metrics(metrics)
    seen: dict[str, str] = {}
    for p in params:
        validate_param(p)
        if p.key in seen and seen[p.key] != p.value:
            raise _invalid(
                f"Duplicate parameter keys have been submitted: '{p.key}' is logged twice "
                "with different values in one batch."
            )
        seen[p.key] = p.value
    for t in tags:
        validate_tag(t.key, t.value)


def validate_tags_mapping(tags: Mapping[str, str] | None) -> dict[str, str]:
    if tags is None:
        return {}
    for key, value in tags.items():
        validate_tag(key, value)
    return dict(tags)


def validate_max_results(value: object, *, limit: int, what: str = "max_results") -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise _invalid(f"Invalid value {value!r} for parameter '{what}': it must be an integer.")
    number = int(value)
    if number < 1 or number > limit:
        raise _invalid(
            f"Invalid value {number} for parameter '{what}' supplied. "
            f"It must be at least 1 and at most {limit}."
        )
    return number


def validate_order_by(order_by: Iterable[object]) -> list[str]:
    out = []
    for clause in order_by:
        if not isinstance(clause, str):
            raise _invalid(f"Invalid order_by clause {clause!r}: it must be a string.")
        out.append(clause)
    return out
