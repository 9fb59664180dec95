"""Checks on what the registry is given: model names, versions, aliases, tags, sources."""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import unquote

from mltrail.errors import InvalidParameterValue
from mltrail.service import validation as v

MAX_REGISTRY_TAG_VALUE = 100_000
MAX_DESCRIPTION = 100_000
MAX_ALIAS_LENGTH = 255
_ALIAS = re.compile(r"^[\w\-]*$")
_VERSION_ALIAS = re.compile(r"^[vV]\d+$")


def validate_model_name(name: object, *, what: str = "name") -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidParameterValue(
            f"Missing value for required parameter '{what}'. "
            "See the API docs for more information about request parameters."
        )
    if "/" in name or ":" in name:
        raise InvalidParameterValue(
            f"Invalid model name '{name}'. Names cannot contain '/' or ':'."
        )
    if name in (".", "..") or "\x00" in name or len(name) > 256:
        raise InvalidParameterValue(f"Invalid model name {name!r}.")
    return name


def parse_version(version: object) -> int:
    if isinstance(version, bool):
        raise InvalidParameterValue(f"Parameter 'version' must be an integer, got {version!r}.")
    if isinstance(version, int):
        number = version
    else:
        try:
            number = int(str(version).strip())
        except ValueError:
            raise InvalidParameterValue(
                f"Parameter 'version' must be an integer, got {version!r}."
            ) from None
    if number < 1:
        raise InvalidParameterValue(
            f"Parameter 'version' must be a positive integer, got {number}."
        )
    return number


def validate_alias(alias: object, *, reserved_check: bool = True) -> str:
    if not isinstance(alias, str) or not alias:
        raise InvalidParameterValue("Registered model alias name cannot be empty.")
    if not _ALIAS.match(alias):
        raise InvalidParameterValue(
            f"Invalid alias name: '{alias}'. Names may only contain alphanumerics, "
            "underscores (_), and dashes (-)."
        )
    if len(alias) > MAX_ALIAS_LENGTH:
        raise InvalidParameterValue(
            f"Registered model alias name exceeds the maximum length of {MAX_ALIAS_LENGTH}."
        )
    if reserved_check:
        if alias.lower() == "latest":
            raise InvalidParameterValue("'latest' alias name (case insensitive) is reserved.")
        if _VERSION_ALIAS.match(alias):
            raise InvalidParameterValue(f"Version alias name '{alias}' is reserved.")
    return alias


def validate_tag(key: object, value: object) -> None:
    v.validate_key(key, what="key")
    if not isinstance(value, str):
        raise InvalidParameterValue(
            f"Invalid value {value!r} for tag '{key}': it must be a string."
        )
    if len(value) > MAX_REGISTRY_TAG_VALUE:
        raise InvalidParameterValue(
            f"The value of tag '{key}' exceeds the maximum length of {MAX_REGISTRY_TAG_VALUE}."
        )


def validate_tags(tags: Mapping[str, str] | None) -> dict[str, str]:
    for key, value in (tags or {}).items():
        validate_tag(key, value)
    return dict(tags or {})


def validate_description(description: str | None) -> str | None:
    if description is not None and len(description) > MAX_DESCRIPTION:
        raise InvalidParameterValue(
            f"The description exceeds the maximum length of {MAX_DESCRIPTION} characters."
        )
    return description


def validate_source(source: object) -> str:
    """Reject NUL and any ``..`` segment, however percent-encoded (MLflow does the same)."""
    if not isinstance(source, str) or not source:
        raise InvalidParameterValue(
            "Missing value for required parameter 'source'. "
            "See the API docs for more information about request parameters."
        )
    decoded = source
    for _ in range(3):
        decoded = unquote(decoded)
    if "\x00" in decoded or ".." in re.split(r"[/\\]", decoded):
        raise InvalidParameterValue(f"Invalid model version source: '{source}'.")
    return source
