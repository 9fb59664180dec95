"""What the model pages show, gathered from the logged-model and registry services.

The services come from :func:`mltrail.server.services.models_services`, so
under authentication every read goes through the same permission checks as the MLflow API.
A run's models are of three kinds: logged models (MLflow 3's ``LoggedModel`` records whose
source run is this run), model folders among the run's artifacts (a folder holding an
``MLmodel`` file, which is what ``mltrail.sklearn.log_model`` writes) and the registered
versions created from the run.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from mltrail.entities import Run
from mltrail.errors import MltrailError
from mltrail.model_entities import LoggedModel, ModelVersion
from mltrail.server.artifact_access import run_artifacts
from mltrail.server.services import models_services, services_of
from mltrail.service.logged_models import LoggedModelService
from mltrail.service.registry import RegistryService

MLMODEL_BYTES = 256 * 1024
# Top-level artifact folders checked for an MLmodel file on the run page.
MAX_FOLDERS_CHECKED = 20
# Runs of one experiment whose registered versions the experiment's models page lists.
MAX_REGISTERED_RUNS = 500


def logged_models(request: Request) -> LoggedModelService:
    service: LoggedModelService = models_services(request.app)[0]
    return service


def registry(request: Request) -> RegistryService:
    service: RegistryService = models_services(request.app)[1]
    return service


def quoted(text: str) -> str:
    """``text`` as a single-quoted string of the search grammar."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def load_snippet(model_uri: str) -> str:
    """How to load a model from Python, with mltrail or with the mlflow client.

    Both loaders read the same URIs: ``runs:/...``, ``models:/<name>/<version>``,
    ``models:/<name>@<alias>`` and ``models:/<model_id>``.
    """
    uri = repr(model_uri)
    return (
        f"import mltrail\nmodel = mltrail.pyfunc.load_model({uri})\n\n"
        f"# or with the mlflow client\nimport mlflow\nmodel = mlflow.pyfunc.load_model({uri})"
    )


def serve_snippet(model_uri: str, *, tracking_uri: str, alias_uri: str | None = None) -> str:
    """The command that serves a model version over HTTP (MLflow's scoring protocol)."""
    import shlex

    head = f"mltrail --tracking-uri {shlex.quote(tracking_uri)} models serve"
    text = f"{head} -m {shlex.quote(model_uri)} --port 5001"
    if alias_uri is not None:
        text += (
            f"\n\n# or follow the alias, swapping versions when it moves\n"
            f"{head} -m {shlex.quote(alias_uri)} --watch --port 5001"
        )
    return text


def register_snippet(tracking_uri: str, *, model_uri: str, name: str = "my-model") -> str:
    """How to register a logged model with the mlflow client."""
    return (
        f"import mlflow\nmlflow.set_tracking_uri({tracking_uri!r})\n"
        f"mlflow.register_model({model_uri!r}, {name!r})"
    )


@dataclass(frozen=True)
class ModelFolder:
    path: str
    flavors: list[str]
    signature: dict[str, Any] | None
    model_uri: str


@dataclass
class RunModels:
    logged: list[LoggedModel] = field(default_factory=list)
    folders: list[ModelFolder] = field(default_factory=list)
    versions: list[ModelVersion] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    # Registered models the viewer can see: offered by the run page's "Register" forms.
    registered_names: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.logged or self.folders or self.versions)


def model_summary(text: str) -> tuple[list[str], dict[str, Any] | None]:
    """(flavors, signature) of an MLmodel document; a broken file gives ([], None)."""
    import yaml  # only model pages need it: an API worker does without

    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        return [], None
    if not isinstance(doc, dict):
        return [], None
    flavors = sorted(str(k) for k in (doc.get("flavors") or {}))
    raw = doc.get("signature")
    if not isinstance(raw, dict):
        return flavors, None
    signature: dict[str, Any] = {}
    for part in ("inputs", "outputs", "params"):
        value = raw.get(part)
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                value = json.loads(value)
        if value is not None:
            signature[part] = value
    return flavors, signature


def signature_rows(part: object) -> list[tuple[str, str]]:
    """(name, type) rows of a column or tensor signature part."""
    if not isinstance(part, list):
        return [("", json.dumps(part))] if part is not None else []
    rows: list[tuple[str, str]] = []
    for item in part:
        if not isinstance(item, dict):
            rows.append(("", str(item)))
            continue
        kind = str(item.get("type", ""))
        if kind == "tensor":
            spec = item.get("tensor-spec") or {}
            if isinstance(spec, dict):
                kind = f"tensor {spec.get('dtype', '')} {spec.get('shape', '')}"
        if item.get("required") is False:
            kind += " (optional)"
        rows.append((str(item.get("name", "")), kind))
    return rows


def read_mlmodel(request: Request, artifact_uri: str, path: str = "") -> str | None:
    """The MLmodel text of the model folder at ``artifact_uri``/``path``, None if absent."""
    artifacts = run_artifacts(services_of(request), artifact_uri)
    target = f"{path}/MLmodel" if path else "MLmodel"
    if not artifacts.exists(target):
        return None
    return artifacts.read(target, limit=MLMODEL_BYTES).decode("utf-8", errors="replace")


def run_models(request: Request, run: Run) -> RunModels:
    """Every model of ``run``; a part that cannot be read is reported, not raised."""
    found = RunModels()
    info = run.info
    try:
        found.logged = list(
            logged_models(request).search_logged_models(
                [info.experiment_id],
                filter_string=f"source_run_id = {quoted(info.run_id)}",
                max_results=100,
            )
        )
    except MltrailError as exc:
        found.problems.append(f"Logged models: {exc.message}")
    try:
        found.versions = list(
            registry(request).search_model_versions(
                filter_string=f"run_id = {quoted(info.run_id)}", max_results=200
            )
        )
    except MltrailError as exc:
        found.problems.append(f"Registered versions: {exc.message}")
    try:
        found.folders = _model_folders(request, run) + _logged_model_folders(
            request, run, found.logged
        )
    except MltrailError as exc:
        found.problems.append(f"Artifacts: {exc.message}")
    if not found.empty:
        with contextlib.suppress(MltrailError):
            page = registry(request).search_registered_models(
                max_results=200, order_by=["name ASC"]
            )
            found.registered_names = [m.name for m in page]
    return found


def _logged_model_folders(
    request: Request, run: Run, logged: list[LoggedModel]
) -> list[ModelFolder]:
    """The run's logged models that have files: ``log_model`` stores them with the model,
    and ``runs:/<run_id>/<name>`` loads them."""
    folders: list[ModelFolder] = []
    for model in logged[:MAX_FOLDERS_CHECKED]:
        text = read_mlmodel(request, model.artifact_location)
        if text is None:
            continue
        flavors, signature = model_summary(text)
        folders.append(
            ModelFolder(
                path=model.name,
                flavors=flavors,
                signature=signature,
                model_uri=f"runs:/{run.info.run_id}/{model.name}",
            )
        )
    return folders


def _model_folders(request: Request, run: Run) -> list[ModelFolder]:
    artifacts = run_artifacts(services_of(request), run.info.artifact_uri)
    folders: list[ModelFolder] = []
    entries = [e for e in artifacts.list("") if e.is_dir][:MAX_FOLDERS_CHECKED]
    for entry in entries:
        text = read_mlmodel(request, run.info.artifact_uri, entry.path)
        if text is None:
            continue
        flavors, signature = model_summary(text)
        folders.append(
            ModelFolder(
                path=entry.path,
                flavors=flavors,
                signature=signature,
                model_uri=f"runs:/{run.info.run_id}/{entry.path}",
            )
        )
    return folders


def experiment_registered_versions(request: Request, experiment_id: str) -> list[ModelVersion]:
    """Registered versions whose source run belongs to the experiment (read through the registry,
    so its permission checks apply)."""
    run_ids = services_of(request).dashboard.model_version_runs(
        experiment_id, limit=MAX_REGISTERED_RUNS
    )
    if not run_ids:
        return []
    ids = ", ".join(quoted(r) for r in run_ids)
    versions = registry(request).search_model_versions(
        filter_string=f"run_id IN ({ids})", max_results=1000
    )
    return sorted(versions, key=lambda v: (v.name, -v.version))
