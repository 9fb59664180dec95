"""Loading a model for serving: resolve the URI, check what the model needs, load it once.

Every check runs here, at start-up (and before an alias swap), so that a model which cannot
answer is refused with a clear message before the server takes its first request.
"""

from __future__ import annotations

import logging
import platform
import shutil
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mltrail.errors import ConfigurationError, InvalidParameterValue
from mltrail.models.model import Model
from mltrail.models.pyfunc import PyFuncModel, load_model
from mltrail.models.uri import (
    MODELS_PREFIX,
    RUNS_PREFIX,
    ParsedModelsUri,
    download_dir,
    parse_models_uri,
    resolve_model_uri,
)

if TYPE_CHECKING:
    from mltrail.client.tracking_client import TrackingClient

logger = logging.getLogger("mltrail.serving")

PICKLE_FORMATS = ("pickle", "cloudpickle")
# What each flavor cannot load without (distribution names, as in requirements.txt).
_FLAVOR_NEEDS = {"sklearn": ("scikit-learn",)}
_FORMAT_NEEDS = {"skops": ("skops",)}


@dataclass(frozen=True)
class ModelSource:
    """What a model URI named when it was resolved (the registry version, if any)."""

    uri: str
    name: str | None = None
    version: int | None = None
    alias: str | None = None
    model_id: str | None = None
    run_id: str | None = None


@dataclass(frozen=True)
class LibraryVersion:
    name: str
    recorded: str | None
    installed: str | None

    @property
    def matches(self) -> bool:
        if self.recorded is None:
            return True
        if self.name == "python" and self.installed is not None:
            # Patch releases of one Python read the same files.
            return self.recorded.split(".")[:2] == self.installed.split(".")[:2]
        return self.recorded == self.installed


@dataclass(frozen=True)
class ServedModel:
    model: PyFuncModel
    source: ModelSource
    libraries: tuple[LibraryVersion, ...] = ()
    loaded_at: float = field(default_factory=time.time)

    @property
    def label(self) -> str:
        if self.source.name is not None and self.source.version is not None:
            return f"{self.source.name} version {self.source.version}"
        return self.source.uri


def is_registry_uri(uri: str) -> bool:
    return uri.startswith(MODELS_PREFIX) or uri.startswith(RUNS_PREFIX)


def follows_registry(uri: str) -> bool:
    """Whether the URI can name another version later (an alias, a stage or 'latest')."""
    if not uri.startswith(MODELS_PREFIX):
        return False
    parsed = parse_models_uri(uri)
    return parsed.name is not None and parsed.version is None


def locate(uri: str, *, client: TrackingClient) -> tuple[ModelSource, str | None]:
    """The source a ``models:/`` URI names now and the artifact URI of its files; other URIs
    give a source without a version and no location (``resolve_model_uri`` fetches them)."""
    if not uri.startswith(MODELS_PREFIX):
        return ModelSource(uri=uri), None
    parsed = parse_models_uri(uri)
    if parsed.model_id is not None:
        logged = client.get_logged_model(parsed.model_id)
        source = ModelSource(uri=uri, model_id=logged.model_id, run_id=logged.source_run_id)
        return source, logged.artifact_location
    assert parsed.name is not None
    version = _registry_version(client, parsed)
    found = client.get_model_version(parsed.name, version)
    source = ModelSource(
        uri=uri,
        name=found.name,
        version=found.version,
        alias=parsed.alias,
        model_id=found.model_id,
        run_id=found.run_id,
    )
    return source, client.get_model_version_download_uri(found.name, found.version)


def current_version(uri: str, *, client: TrackingClient) -> int:
    """The registry version a ``models:/Name@alias`` (or stage, or latest) URI names now."""
    parsed = parse_models_uri(uri)
    return _registry_version(client, parsed)


def _registry_version(client: TrackingClient, parsed: ParsedModelsUri) -> int:
    from mltrail.errors import ResourceDoesNotExist

    assert parsed.name is not None
    if parsed.alias is not None:
        return client.get_model_version_by_alias(parsed.name, parsed.alias).version
    if parsed.version is not None:
        return parsed.version
    stages = [parsed.stage] if parsed.stage is not None else None
    latest = client.get_latest_versions(parsed.name, stages=stages)
    if not latest:
        where = f" in stage '{parsed.stage}'" if parsed.stage is not None else ""
        raise ResourceDoesNotExist(f"Registered model '{parsed.name}' has no version{where}")
    return max(v.version for v in latest)


def load_served_model(
    uri: str,
    *,
    client: TrackingClient | None,
    allow_pickle: bool = False,
    trusted_types: tuple[str, ...] = (),
) -> ServedModel:
    """Resolve, check and load ``uri``; every refusal is a typed error with the reason."""
    if client is None and is_registry_uri(uri):
        from mltrail.client.tracking_client import TrackingClient

        client = TrackingClient()
    if client is not None:
        source, location = locate(uri, client=client)
    else:
        source, location = ModelSource(uri=uri), None
    if location is not None:
        assert client is not None
        model_dir = Path(client.download_artifacts_from_uri(location, download_dir()))
    else:
        model_dir = resolve_model_uri(uri, client=client)
    downloaded = location is not None or is_registry_uri(uri) or _is_remote(uri)
    try:
        meta = Model.load(model_dir)
        check_serialization(meta, uri=uri, allow_pickle=allow_pickle)
        libraries = check_libraries(model_dir, meta, uri=uri)
        model = load_model(model_dir, trusted_types=list(trusted_types) or None)
    finally:
        # The loaded model lives in memory; a downloaded copy is of no further use.
        if downloaded:
            shutil.rmtree(model_dir, ignore_errors=True)
    if source.run_id is None and meta.run_id:
        source = ModelSource(**{**source.__dict__, "run_id": meta.run_id})
    if source.model_id is None and meta.extra.get("model_id"):
        source = ModelSource(**{**source.__dict__, "model_id": str(meta.extra["model_id"])})
    return ServedModel(model=model, source=source, libraries=libraries)


def _is_remote(uri: str) -> bool:
    return "://" in uri and not uri.startswith("file:")


def check_serialization(meta: Model, *, uri: str, allow_pickle: bool) -> None:
    for name, conf in meta.flavors.items():
        if not isinstance(conf, dict):
            continue
        fmt = str(conf.get("serialization_format", ""))
        if name == "sklearn" and not fmt:
            fmt = "pickle"  # what MLflow wrote before it recorded the format
        if fmt in PICKLE_FORMATS and not allow_pickle:
            raise ConfigurationError(
                f"Model {uri!r} is saved with {fmt} (flavor {name!r}). Unpickling runs whatever "
                "code the file holds, so it is served only with --allow-pickle, for models from "
                "a source you trust. Saving it with serialization_format='skops' avoids this."
            )


def check_libraries(model_dir: Path, meta: Model, *, uri: str) -> tuple[LibraryVersion, ...]:
    """What the model recorded against what is installed. A library its flavor needs and that
    is missing is an error; any other difference is a warning (mltrail builds no environment)."""
    recorded = recorded_requirements(model_dir)
    flavor_conf = meta.flavors.get("sklearn")
    if isinstance(flavor_conf, dict) and flavor_conf.get("sklearn_version"):
        recorded.setdefault("scikit-learn", str(flavor_conf["sklearn_version"]))
    needed: list[str] = []
    for flavor, names in _FLAVOR_NEEDS.items():
        conf = meta.flavors.get(flavor)
        if isinstance(conf, dict):
            needed.extend(names)
            needed.extend(_FORMAT_NEEDS.get(str(conf.get("serialization_format", "")), ()))
    if "python_function" not in meta.flavors:
        raise InvalidParameterValue(
            f"Model {uri!r} has no python_function flavor (flavors: {sorted(meta.flavors)}); "
            "the scoring server serves python_function models"
        )
    libraries = []
    for name in sorted({*recorded, *needed}):
        installed = _installed(name)
        libraries.append(LibraryVersion(name, recorded.get(name), installed))
    libraries.append(LibraryVersion("python", _recorded_python(model_dir, meta), _python()))
    missing = [lib for lib in libraries if lib.installed is None and lib.name in needed]
    if missing:
        wanted = " ".join(
            f"{lib.name}=={lib.recorded}" if lib.recorded else lib.name for lib in missing
        )
        raise ConfigurationError(
            f"Model {uri!r} needs {', '.join(lib.name for lib in missing)}, which is not installed "
            f"here. mltrail serves in the running environment (--env-manager local) and builds no "
            f"other: install them first, e.g. pip install {wanted}"
        )
    return tuple(libraries)


def recorded_requirements(model_dir: Path) -> dict[str, str]:
    """``name -> version`` for each ``name==version`` line of the model's requirements.txt."""
    path = model_dir / "requirements.txt"
    found: dict[str, str] = {}
    if not path.is_file():
        return found
    for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = raw.split("#", 1)[0].strip()
        name, sep, version = line.partition("==")
        if sep and name and not name.startswith("-"):
            found[_canonical(name.split("[", 1)[0])] = version.strip()
    return found


def _canonical(name: str) -> str:
    return name.strip().lower().replace("_", "-")


def _installed(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def version_warnings(served: ServedModel) -> list[str]:
    lines = []
    for lib in served.libraries:
        if lib.installed is None:
            lines.append(f"{lib.name}=={lib.recorded} was recorded with the model; not installed")
        elif not lib.matches:
            lines.append(
                f"{lib.name}: the model recorded {lib.recorded}, this environment has "
                f"{lib.installed}"
            )
    return lines


def _python() -> str:
    return platform.python_version()


def _recorded_python(model_dir: Path, meta: Model) -> str | None:
    conf: Any = meta.flavors.get("python_function")
    if isinstance(conf, dict) and conf.get("python_version"):
        return str(conf["python_version"])
    env_file = model_dir / "python_env.yaml"
    if env_file.is_file():
        import yaml

        try:
            env = yaml.safe_load(env_file.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError):
            return None
        if isinstance(env, dict) and env.get("python"):
            return str(env["python"])
    return None
