"""The scikit-learn flavor: save, log and load estimators and pipelines.

Models are serialised with skops by default; pickle only on request, since unpickling a file
can run arbitrary code.
"""

from __future__ import annotations

import contextlib
import importlib
import pickle
import shutil
import tempfile
import uuid
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from mltrail.artifacts.paths import safe_join, safe_relpath
from mltrail.client.model_registration import register
from mltrail.errors import (
    ConfigurationError,
    InvalidParameterValue,
    MltrailError,
    ResourceAlreadyExists,
    ResourceDoesNotExist,
)
from mltrail.model_entities import LoggedModelStatus
from mltrail.models.env import pinned, write_environment
from mltrail.models.input_example import save_input_example
from mltrail.models.model import Model, ModelInfo, validate_logged_model_name
from mltrail.models.signature import ModelSignature, as_frame_or_array, infer_schema

FLAVOR_NAME = "sklearn"
SERIALIZATION_FORMATS = ("skops", "pickle")
_MODEL_FILES = {"skops": "model.skops", "pickle": "model.pkl"}
_PICKLE_FORMATS = ("pickle", "cloudpickle")

# skops refuses types it does not know to be harmless. These are the ones standard estimators
# carry (trees, boosting predictors, neighbours, optimisers); all are scikit-learn's own or numpy
# dtypes, which skops rebuilds without running code from the file. Tree arrays are not bounds
# checked by scikit-learn, so a crafted file could crash predict: they are trusted because model
# files come from the user's own tracking server.
_TRUSTED_PREFIXES = ("sklearn.",)
_TRUSTED_EXACT = frozenset({"numpy.dtype"})


def _import_sklearn() -> ModuleType:
    try:
        return importlib.import_module("sklearn")
    except ImportError as exc:
        raise ConfigurationError(
            "scikit-learn is not installed; install it with: pip install 'mltrail[sklearn]'"
        ) from exc


def _import_skops() -> ModuleType:
    try:
        return importlib.import_module("skops.io")
    except ImportError as exc:
        raise ConfigurationError(
            "skops is not installed (needed for skops-serialised models); "
            "install it with: pip install 'mltrail[sklearn]'"
        ) from exc


def save_model(
    sk_model: Any,
    path: str | Path,
    *,
    serialization_format: str = "skops",
    signature: ModelSignature | None = None,
    input_example: Any = None,
) -> Model:
    """Write ``sk_model`` as a model folder at ``path`` (which must not exist or be empty)."""
    sklearn = _import_sklearn()
    if serialization_format not in SERIALIZATION_FORMATS:
        raise InvalidParameterValue(
            f"Unknown serialization_format {serialization_format!r}; use one of {list(SERIALIZATION_FORMATS)}"
        )
    if not hasattr(sk_model, "predict"):
        raise InvalidParameterValue(f"{type(sk_model).__name__} has no predict method")
    model_dir = Path(path)
    if model_dir.exists() and (not model_dir.is_dir() or any(model_dir.iterdir())):
        raise ResourceAlreadyExists(f"Path {str(model_dir)!r} already exists and is not empty")
    model_dir.mkdir(parents=True, exist_ok=True)
    try:
        return _write_model_dir(
            sklearn, sk_model, model_dir, serialization_format, signature, input_example
        )
    except BaseException:
        shutil.rmtree(model_dir, ignore_errors=True)
        raise


def _write_model_dir(
    sklearn: ModuleType,
    sk_model: Any,
    model_dir: Path,
    serialization_format: str,
    signature: ModelSignature | None,
    input_example: Any,
) -> Model:
    file_name = _MODEL_FILES[serialization_format]
    if serialization_format == "skops":
        _import_skops().dump(sk_model, model_dir / file_name)
    else:
        with open(model_dir / file_name, "wb") as fh:
            pickle.dump(sk_model, fh, protocol=pickle.DEFAULT_PROTOCOL)
    meta = Model()
    if input_example is not None:
        meta.saved_input_example_info = save_input_example(model_dir, input_example)
        if signature is None:
            example = as_frame_or_array(input_example)
            signature = ModelSignature(
                inputs=infer_schema(example), outputs=infer_schema(sk_model.predict(example))
            )
    meta.signature = signature
    meta.add_flavor(
        "python_function",
        loader_module="mltrail.models.sklearn",
        model_path=file_name,
        predict_fn="predict",
        env={"virtualenv": "python_env.yaml"},
    )
    meta.add_flavor(
        FLAVOR_NAME,
        pickled_model=file_name,
        sklearn_version=sklearn.__version__,
        serialization_format=serialization_format,
        code=None,
    )
    meta.save(model_dir)
    deps = [
        "scikit-learn",
        *(["skops"] if serialization_format == "skops" else []),
        "numpy",
        "pandas",
    ]
    write_environment(model_dir, requirements=pinned(deps))
    return meta


def _load_estimator(model_dir: Path, meta: Model, trusted_types: Sequence[str] | None) -> Any:
    _import_sklearn()
    conf = meta.flavors.get(FLAVOR_NAME)
    if not isinstance(conf, dict):
        raise InvalidParameterValue(f"Model at {str(model_dir)!r} has no {FLAVOR_NAME} flavor")
    fmt = str(conf.get("serialization_format", "pickle"))
    # The file name comes from the MLmodel file, which is as untrusted as any other input.
    file_path = safe_join(model_dir, safe_relpath(str(conf.get("pickled_model", ""))))
    if not file_path.is_file():
        raise ResourceDoesNotExist(
            f"Model file {file_path.name!r} is missing from {str(model_dir)!r}"
        )
    if fmt == "skops":
        return _load_skops(file_path, trusted_types)
    if fmt in _PICKLE_FORMATS:
        warnings.warn(
            f"Loading {file_path.name!r} with pickle: unpickling can execute arbitrary code. "
            "Only load models from sources you trust; save with serialization_format='skops' to avoid this.",
            UserWarning,
            stacklevel=3,
        )
        with open(file_path, "rb") as fh:
            return pickle.load(fh)
    raise InvalidParameterValue(f"Unknown serialization_format {fmt!r} in MLmodel")


def _load_skops(file_path: Path, trusted_types: Sequence[str] | None) -> Any:
    sio = _import_skops()
    extra = set(trusted_types or ())
    untrusted = sio.get_untrusted_types(file=file_path)
    refused = [
        t
        for t in untrusted
        if t not in extra and t not in _TRUSTED_EXACT and not t.startswith(_TRUSTED_PREFIXES)
    ]
    if refused:
        raise InvalidParameterValue(
            f"Refusing to load {file_path.name!r}: it contains types that are not known to be safe: "
            f"{refused}. If you trust where this model comes from, pass trusted_types={refused!r}"
        )
    return sio.load(file_path, trusted=list(untrusted))


def load_model(model_uri: str | Path, *, trusted_types: Sequence[str] | None = None) -> Any:
    """The scikit-learn estimator saved at ``model_uri``: a path, ``file://``, ``runs:/<run>/<name>``,
    ``models:/<model_id>``, ``models:/<name>/<version>``, ``models:/<name>@<alias>`` or
    ``models:/<name>/latest``."""
    from mltrail.models.uri import resolve_model_uri

    model_dir = resolve_model_uri(model_uri)
    return _load_estimator(model_dir, Model.load(model_dir), trusted_types)


class _SklearnPredictor:
    def __init__(self, raw_model: Any) -> None:
        from mltrail.models.forests import forest_predictor

        self.raw_model = raw_model
        # Forests predict the same values without joblib's per-call cost (a scoring server's
        # one-row requests are mostly that cost).
        self._predict = forest_predictor(raw_model) or raw_model.predict

    def predict(self, data: Any) -> Any:
        return self._predict(data)


def _load_pyfunc(
    model_dir: Path, *, metadata: Model, trusted_types: Sequence[str] | None = None
) -> _SklearnPredictor:
    """Entry point named by ``loader_module`` in the python_function flavor."""
    return _SklearnPredictor(_load_estimator(model_dir, metadata, trusted_types))


def log_model(
    sk_model: Any,
    name: str,
    *,
    input_example: Any = None,
    signature: ModelSignature | None = None,
    serialization_format: str = "skops",
    registered_model_name: str | None = None,
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | None = None,
) -> ModelInfo:
    """Save ``sk_model`` as a logged model of the active run (started if there is none).

    As in MLflow 3, the model is an entity of its own (``models:/<model_id>``), created
    PENDING, READY once its files are uploaded to the model's artifact location
    (UPLOAD_FAILED if that fails); ``runs:/<run_id>/<name>`` loads it too. With
    ``registered_model_name``, it is also registered as a new version of that model.
    """
    from mltrail.client.fluent.log_calls import flush
    from mltrail.client.fluent.runs import active_run, start_run
    from mltrail.client.tracking_client import TrackingClient

    validate_logged_model_name(name)
    run = active_run() or start_run()
    run_id = run.info.run_id
    client = TrackingClient()
    # Chosen here, so that a model kept in the spool during an outage has its id already.
    model_id = f"m-{uuid.uuid4().hex}"
    with tempfile.TemporaryDirectory(prefix="mltrail-model-") as tmp:
        local = Path(tmp) / "model"
        meta = save_model(
            sk_model,
            local,
            serialization_format=serialization_format,
            signature=signature,
            input_example=input_example,
        )
        meta.run_id = run_id
        meta.model_uuid = model_id
        meta.extra["model_id"] = model_id
        # The run's params are copied onto the model, as MLflow does (queued ones included).
        flush()
        try:
            artifact_location = _create_and_upload(
                client, run, model_id, local, meta, name=name, params=params, tags=tags
            )
        except MltrailError as exc:
            from mltrail.client.artifact_spool import can_keep

            if not can_keep(client.backend, exc):
                raise
            meta.save(local)
            _keep(
                client,
                run_id,
                local,
                exc,
                model_id=model_id,
                name=name,
                params=params,
                tags=tags,
                registered_model_name=registered_model_name,
            )
            artifact_location, registered_model_name = "", None
    model_uri = f"models:/{model_id}"
    version = None
    if registered_model_name is not None:
        version = register(client, model_uri, registered_model_name, run_id=run_id).version
    return ModelInfo(
        model_uri=model_uri,
        artifact_path=name,
        run_id=run_id,
        flavors=meta.flavors,
        signature=meta.signature,
        model_uuid=meta.model_uuid,
        utc_time_created=meta.utc_time_created,
        registered_model_version=version,
        model_id=model_id,
        name=name,
        artifact_location=artifact_location,
    )


def _create_and_upload(
    client: Any,
    run: Any,
    model_id: str,
    local: Path,
    meta: Model,
    *,
    name: str,
    params: Mapping[str, Any] | None,
    tags: Mapping[str, Any] | None,
) -> str:
    """Create the logged model, upload its files, mark it READY; its artifact location."""
    run_id = run.info.run_id
    logged = client.create_logged_model(
        run.info.experiment_id,
        name=name,
        source_run_id=run_id,
        params={**client.get_run(run_id).data.params, **_str_map(params)},
        tags=_str_map(tags),
        model_type=None,
        model_id=model_id,
    )
    meta.artifact_path = logged.artifact_location
    meta.save(local)
    _upload(client, model_id, local)
    return str(logged.artifact_location)


def _keep(
    client: Any,
    run_id: str,
    local: Path,
    exc: MltrailError,
    *,
    model_id: str,
    name: str,
    params: Mapping[str, Any] | None,
    tags: Mapping[str, Any] | None,
    registered_model_name: str | None,
) -> None:
    from mltrail.client.artifact_spool import keep_model
    from mltrail.client.fluent.runs import known_params
    from mltrail.config import load_settings

    keep_model(
        client.backend,
        run_id,
        local,
        manifest={
            "model_id": model_id,
            "name": name,
            "params": {**(known_params(run_id) or {}), **_str_map(params)},
            "tags": _str_map(tags),
            "model_type": None,
            "registered_model_name": registered_model_name,
        },
        settings=load_settings(),
        cause=exc,
    )


def _str_map(values: Mapping[str, Any] | None) -> dict[str, str]:
    return {str(k): str(v) for k, v in (values or {}).items()}


def _upload(client: Any, model_id: str, local: Path) -> None:
    """Upload the files, then mark the model READY; a failed upload marks it UPLOAD_FAILED."""
    from mltrail.client.artifact_spool import can_keep

    try:
        client.log_model_artifacts(model_id, local)
    except BaseException as exc:
        # Not when the files wait in the spool: sync uploads them and marks the model READY.
        if not (isinstance(exc, MltrailError) and can_keep(client.backend, exc)):
            with contextlib.suppress(Exception):
                client.finalize_logged_model(model_id, LoggedModelStatus.UPLOAD_FAILED)
        raise
    client.finalize_logged_model(model_id, LoggedModelStatus.READY)
