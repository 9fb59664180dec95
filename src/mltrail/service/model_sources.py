"""What a model version's ``source`` names, parsed once for the registry and its checks.

The registry resolves a source to the files it points at; the permission-checked registry
checks that the caller may read what the source names. Both parse it here, so they
cannot disagree about what a source refers to.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlparse

from mltrail.errors import InvalidParameterValue
from mltrail.service.registry_validation import parse_version

PROXIED_SCHEME = "mlflow-artifacts"


@dataclass(frozen=True)
class LoggedModelSource:
    """``models:/<model_id>``."""

    model_id: str


@dataclass(frozen=True)
class RegisteredSource:
    """``models:/<name>/<version>`` (``version`` set) or ``models:/<name>@<alias>``."""

    name: str
    version: int | None = None
    alias: str | None = None


@dataclass(frozen=True)
class RunSource:
    """``runs:/<run_id>/<path>``."""

    run_id: str
    path: str


@dataclass(frozen=True)
class UriSource:
    """Any other URI: a storage location taken as it is."""

    uri: str


ModelSource = LoggedModelSource | RegisteredSource | RunSource | UriSource


def parse_source(source: str) -> ModelSource:
    if source.startswith("models:/"):
        ref = source[len("models:/") :].strip("/")
        if ref.startswith("m-") and "/" not in ref and "@" not in ref:
            return LoggedModelSource(ref)
        if "@" in ref:
            name, _, alias = ref.partition("@")
            return RegisteredSource(name, alias=alias)
        name, _, version = ref.rpartition("/")
        if not name:
            raise InvalidParameterValue(
                f"Invalid model version source '{source}': expected models:/<model_id>, "
                "models:/<name>/<version> or models:/<name>@<alias>."
            )
        return RegisteredSource(name, version=parse_version(version))
    if source.startswith("runs:/"):
        run_id, _, path = source[len("runs:/") :].partition("/")
        return RunSource(run_id, path.strip("/"))
    return UriSource(source)


def proxied_experiment(uri: str) -> str | None:
    """The first path segment of an ``mlflow-artifacts:`` URI (the experiment's folder)."""
    parsed = urlparse(uri)
    if parsed.scheme != PROXIED_SCHEME:
        return None
    return parsed.path.strip("/").split("/", 1)[0]


def is_under(uri: str, base: str) -> bool:
    """Whether ``uri`` is ``base`` or a path below it (``..`` segments are refused earlier)."""
    base = base.rstrip("/")
    return bool(base) and (uri.rstrip("/") == base or uri.startswith(base + "/"))
