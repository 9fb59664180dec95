"""The ``MLmodel`` file that describes a saved model folder, and ``ModelInfo`` for logged models."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mltrail.errors import InvalidParameterValue, ResourceDoesNotExist
from mltrail.models.signature import ModelSignature

MLMODEL_FILE = "MLmodel"


def _mltrail_version() -> str:
    # Imported late: the top-level package imports the flavors, which import this module.
    from mltrail.version import __version__

    return __version__


@dataclass
class Model:
    flavors: dict[str, dict[str, Any]] = field(default_factory=dict)
    signature: ModelSignature | None = None
    saved_input_example_info: dict[str, Any] | None = None
    artifact_path: str | None = None
    run_id: str | None = None
    model_uuid: str = field(default_factory=lambda: uuid.uuid4().hex)
    utc_time_created: str = field(
        default_factory=lambda: dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
    )
    mltrail_version: str = field(default_factory=_mltrail_version)
    extra: dict[str, Any] = field(default_factory=dict)

    def add_flavor(self, name: str, **params: Any) -> None:
        self.flavors[name] = params

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.artifact_path is not None:
            data["artifact_path"] = self.artifact_path
        data["flavors"] = self.flavors
        data["mltrail_version"] = self.mltrail_version
        data["model_uuid"] = self.model_uuid
        if self.run_id is not None:
            data["run_id"] = self.run_id
        if self.saved_input_example_info is not None:
            data["saved_input_example_info"] = self.saved_input_example_info
        if self.signature is not None:
            data["signature"] = self.signature.to_dict()
        data["utc_time_created"] = self.utc_time_created
        data.update(self.extra)
        return data

    def save(self, model_dir: Path) -> None:
        text = yaml.safe_dump(self.to_dict(), default_flow_style=False, sort_keys=False)
        (model_dir / MLMODEL_FILE).write_text(text, encoding="utf-8")

    @classmethod
    def load(cls, model_dir: Path) -> Model:
        path = model_dir / MLMODEL_FILE if model_dir.is_dir() else model_dir
        if not path.is_file():
            raise ResourceDoesNotExist(
                f"No {MLMODEL_FILE} file in {str(model_dir)!r}: not a model folder"
            )
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise InvalidParameterValue(
                f"Unreadable {MLMODEL_FILE} in {str(model_dir)!r}: {exc}"
            ) from exc
        if not isinstance(data, dict) or not isinstance(data.get("flavors"), dict):
            raise InvalidParameterValue(f"Invalid {MLMODEL_FILE} in {str(model_dir)!r}: no flavors")
        known = {
            "flavors", "signature", "saved_input_example_info", "artifact_path", "run_id",
            "model_uuid", "utc_time_created", "mltrail_version",
        }  # fmt: skip
        signature = data.get("signature")
        return cls(
            flavors=data["flavors"],
            signature=ModelSignature.from_dict(signature) if signature else None,
            saved_input_example_info=data.get("saved_input_example_info"),
            artifact_path=data.get("artifact_path"),
            run_id=data.get("run_id"),
            model_uuid=str(data.get("model_uuid") or ""),
            utc_time_created=str(data.get("utc_time_created") or ""),
            mltrail_version=str(data.get("mltrail_version") or ""),
            extra={k: v for k, v in data.items() if k not in known},
        )


@dataclass(frozen=True)
class ModelInfo:
    """What ``log_model`` returns: where the model went and how to load it back."""

    model_uri: str
    artifact_path: str
    run_id: str
    flavors: dict[str, dict[str, Any]]
    signature: ModelSignature | None
    model_uuid: str
    utc_time_created: str
    registered_model_version: int | None = None
    # The logged model (MLflow 3): its id, its name and where its files are.
    model_id: str | None = None
    name: str | None = None
    artifact_location: str | None = None


# MLflow refuses these in logged-model names; backslashes and control characters too, since
# the name is also the last segment of ``runs:/<run_id>/<name>``.
_BAD_NAME_CHARS = ("/", ":", ".", "%", '"', "'", "\\")
MAX_LOGGED_MODEL_NAME = 500


def validate_logged_model_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidParameterValue("log_model needs a non-empty name for the model")
    if (
        any(c in name for c in _BAD_NAME_CHARS)
        or any(ord(c) < 32 for c in name)
        or len(name) > MAX_LOGGED_MODEL_NAME
    ):
        raise InvalidParameterValue(
            f"Invalid model name {name!r}: it must be at most {MAX_LOGGED_MODEL_NAME} characters "
            f"without any of {' '.join(_BAD_NAME_CHARS)} or control characters"
        )
    return name
