"""The generic ``python_function`` flavor: load any saved model as something with ``predict``."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from mltrail.errors import ConfigurationError, InvalidParameterValue
from mltrail.models.model import Model
from mltrail.models.signature import ModelSignature, enforce_input
from mltrail.models.uri import resolve_model_uri

FLAVOR_NAME = "python_function"

# The MLmodel file names the module that loads the model. Importing whatever it names would let a
# model file run code, so only known loaders are accepted (MLflow's sklearn models included).
_LOADERS = {
    "mltrail.models.sklearn": "mltrail.models.sklearn",
    "mlflow.sklearn": "mltrail.models.sklearn",
}


class _Predictor(Protocol):
    def predict(self, data: Any) -> Any: ...


class PyFuncModel:
    """A loaded model: ``predict`` checks the input against the signature, then calls the model."""

    def __init__(self, impl: _Predictor, *, metadata: Model, model_dir: Path) -> None:
        self._impl = impl
        self._metadata = metadata
        self._model_dir = model_dir

    @property
    def metadata(self) -> Model:
        return self._metadata

    @property
    def signature(self) -> ModelSignature | None:
        return self._metadata.signature

    @property
    def model_dir(self) -> Path:
        return self._model_dir

    def get_raw_model(self) -> Any:
        """The underlying model object (for sklearn models, the estimator)."""
        return getattr(self._impl, "raw_model", self._impl)

    def predict(self, data: Any) -> Any:
        prepared = enforce_input(self.signature, data) if self.signature is not None else data
        return self._impl.predict(prepared)

    def predict_prepared(self, data: Any) -> Any:
        """``predict`` for input already checked against the signature (the scoring server
        checks it column by column itself), without checking it twice."""
        return self._impl.predict(data)

    def __repr__(self) -> str:
        flavors = ", ".join(sorted(self._metadata.flavors))
        return f"PyFuncModel(flavors=[{flavors}], model_uuid={self._metadata.model_uuid!r})"


def load_model(model_uri: str | Path, *, trusted_types: Sequence[str] | None = None) -> PyFuncModel:
    """Load a model for ``predict``: a local path, ``file://``, ``runs:/<run_id>/<path>``,
    ``models:/<model_id>``, ``models:/<name>/<version>``, ``models:/<name>@<alias>`` or
    ``models:/<name>/latest`` (also ``models:/<name>/<stage>``).

    ``trusted_types`` extends the types a skops-serialised model may contain (see
    :func:`mltrail.models.sklearn.load_model`).
    """
    model_dir = resolve_model_uri(model_uri)
    metadata = Model.load(model_dir)
    conf = metadata.flavors.get(FLAVOR_NAME)
    if not isinstance(conf, dict):
        raise InvalidParameterValue(
            f"Model {str(model_uri)!r} has no {FLAVOR_NAME} flavor (flavors: {sorted(metadata.flavors)})"
        )
    loader_name = str(conf.get("loader_module", ""))
    target = _LOADERS.get(loader_name)
    if target is None:
        raise ConfigurationError(
            f"Model {str(model_uri)!r} needs the loader {loader_name!r}, which mltrail does not "
            f"know (known: {sorted(_LOADERS)})"
        )
    loader = importlib.import_module(target)
    impl = loader._load_pyfunc(model_dir, metadata=metadata, trusted_types=trusted_types)
    return PyFuncModel(impl, metadata=metadata, model_dir=model_dir)
