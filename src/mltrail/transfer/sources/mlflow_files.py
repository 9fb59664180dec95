"""MLflow's file store (an ``mlruns`` folder) read directly.

Layout (MLflow 3.17): ``<root>/<experiment_id>/meta.yaml`` (deleted experiments under
``.trash/``), experiment tags in ``tags/``; each run in ``<experiment>/<run_id>/`` with
``meta.yaml``, ``params/``, ``tags/``, ``metrics/`` (one file per key, a line
``timestamp value step`` per point; keys with ``/`` are sub-folders), ``inputs/`` and
``outputs/``; datasets in ``<experiment>/datasets/``; logged models in
``<experiment>/models/<model_id>/``; the registry in ``<root>/models/<name>/``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from mltrail.config import Settings
from mltrail.entities import RunStatus
from mltrail.model_entities import LoggedModel, LoggedModelMetric, LoggedModelStatus, ModelVersion
from mltrail.store.sql.metrics import Series
from mltrail.transfer.errors import NotSourceData
from mltrail.transfer.records import (
    ACTIVE,
    DELETED,
    ArtifactFile,
    DatasetInput,
    ExperimentRecord,
    RegisteredModelRecord,
    RunRecord,
    digest,
)
from mltrail.transfer.sources.base import SeriesCollector
from mltrail.transfer.sources.locations import LocationReader
from mltrail.transfer.sources.mlflow_sql_models import DELETED_VERSION_STAGE, model_id_of_source

TRASH = ".trash"
REGISTRY = "models"
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(path: Path) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as fh:
            value = yaml.load(fh, Loader=_Loader)
    except (OSError, yaml.YAMLError) as exc:
        raise NotSourceData(f"Cannot read {path}: {exc}") from exc
    return value if isinstance(value, dict) else {}


def read_key_values(folder: Path) -> dict[str, str]:
    """Files below ``folder`` as {key: content}; sub-folders make keys with ``/``."""
    out: dict[str, str] = {}
    if not folder.is_dir():
        return out
    for parent, _, files in os.walk(folder):
        rel = os.path.relpath(parent, folder)
        for name in files:
            key = name if rel == "." else f"{rel}/{name}".replace(os.sep, "/")
            with open(os.path.join(parent, name), encoding="utf-8") as fh:
                out[key] = fh.read()
    return out


def _metric_files(folder: Path) -> dict[str, Path]:
    out: dict[str, Path] = {}
    if not folder.is_dir():
        return out
    for parent, _, files in os.walk(folder):
        rel = os.path.relpath(parent, folder)
        for name in files:
            key = name if rel == "." else f"{rel}/{name}".replace(os.sep, "/")
            out[key] = Path(parent) / name
    return out


def parse_metric_lines(text: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[list[str]]]:
    """(timestamps, values, steps, extra columns per line) of a metric file."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    tokens = text.split()
    if len(tokens) == 3 * len(lines):
        stamps = np.array(tokens[0::3]).astype(np.int64)
        values = np.array(tokens[1::3]).astype(np.float64)
        steps = np.array(tokens[2::3]).astype(np.int64)
        return stamps, values, steps, []
    parts = [line.split() for line in lines if line.strip()]
    stamps = np.array([p[0] for p in parts]).astype(np.int64)
    values = np.array([p[1] for p in parts]).astype(np.float64)
    steps = np.array([p[2] if len(p) > 2 else "0" for p in parts]).astype(np.int64)
    return stamps, values, steps, [p[3:] for p in parts]


class MlflowFileSource:
    counts_are_cheap = False

    def __init__(
        self,
        root: Path,
        *,
        settings: Settings,
        mlflow_artifacts_root: str | None = None,
        workspace: str = "default",
    ) -> None:
        self.root = root.resolve()
        self._workspace = workspace
        self.label = f"MLflow file store {self.root}"
        if not self.root.is_dir():
            raise NotSourceData(f"{root} is not a folder")
        if not (self.root / "0" / "meta.yaml").is_file() and not any(
            (p / "meta.yaml").is_file() for p in self._experiment_dirs()
        ):
            raise NotSourceData(
                f"{root} is not an MLflow file store (no <experiment>/meta.yaml inside)"
            )
        self._reader = LocationReader(
            settings=settings,
            mlflow_artifacts_root=mlflow_artifacts_root,
            base_dir=self.root.parent,
        )
        self._exp_dirs: dict[str, Path] = {}
        self._run_dirs: dict[str, Path] = {}
        self._counts: dict[str, dict[str, int]] = {}

    def _experiment_dirs(self) -> list[Path]:
        dirs = []
        for base in (self.root, self.root / TRASH):
            if not base.is_dir():
                continue
            for child in sorted(base.iterdir()):
                if (
                    child.is_dir()
                    and child.name not in (TRASH, REGISTRY)
                    and (child / "meta.yaml").is_file()
                ):
                    dirs.append(child)
        return dirs

    def experiments(self) -> list[ExperimentRecord]:
        out = []
        for folder in self._experiment_dirs():
            meta = read_yaml(folder / "meta.yaml")
            exp_id = str(meta.get("experiment_id", folder.name))
            if str(meta.get("workspace") or "default") != self._workspace:
                continue
            self._exp_dirs[exp_id] = folder
            stage = str(meta.get("lifecycle_stage") or ACTIVE)
            created = int(meta.get("creation_time") or 0)
            updated = int(meta.get("last_update_time") or created)
            out.append(
                ExperimentRecord(
                    source_id=exp_id,
                    name=str(meta.get("name", "")),
                    artifact_location=str(meta.get("artifact_location") or ""),
                    lifecycle_stage=stage,
                    creation_time=created,
                    last_update_time=updated,
                    deleted_time=updated if stage == DELETED else None,
                    tags=read_key_values(folder / "tags"),
                )
            )
        out.sort(key=lambda e: (len(e.source_id), e.source_id))
        return out

    def runs(self, experiment: ExperimentRecord) -> list[RunRecord]:
        folder = self._exp_dirs[experiment.source_id]
        datasets = self._dataset_defs(folder)
        out = []
        for child in sorted(folder.iterdir()):
            if not child.is_dir() or not (child / "meta.yaml").is_file():
                continue
            if child.name in ("tags", "datasets", "models", "traces"):
                continue
            meta = read_yaml(child / "meta.yaml")
            run_id = str(meta.get("run_id") or meta.get("run_uuid") or child.name)
            self._run_dirs[run_id] = child
            metric_files = _metric_files(child / "metrics")
            inputs, model_inputs = self._inputs(child / "inputs", datasets)
            out.append(
                RunRecord(
                    run_id=run_id,
                    experiment_id=experiment.source_id,
                    run_name=str(meta.get("run_name") or ""),
                    user_id=str(meta.get("user_id") or ""),
                    status=_status(meta.get("status")),
                    start_time=int(meta.get("start_time") or 0),
                    end_time=None if meta.get("end_time") is None else int(meta["end_time"]),
                    lifecycle_stage=str(meta.get("lifecycle_stage") or ACTIVE),
                    artifact_uri=str(meta.get("artifact_uri") or ""),
                    deleted_time=None
                    if meta.get("deleted_time") is None
                    else int(meta["deleted_time"]),
                    params=read_key_values(child / "params"),
                    tags=read_key_values(child / "tags"),
                    datasets=tuple(inputs),
                    model_inputs=tuple(model_inputs),
                    model_outputs=tuple(self._outputs(child / "outputs")),
                    metrics_hint=digest(
                        sorted((k, p.stat().st_size) for k, p in metric_files.items())
                    ),
                )
            )
        out.sort(key=lambda r: (r.start_time, r.run_id))
        return out

    def _dataset_defs(self, folder: Path) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        base = folder / "datasets"
        if base.is_dir():
            for child in base.iterdir():
                if (child / "meta.yaml").is_file():
                    out[child.name] = read_yaml(child / "meta.yaml")
        return out

    def _inputs(
        self, folder: Path, datasets: dict[str, dict[str, Any]]
    ) -> tuple[list[DatasetInput], list[str]]:
        found: list[DatasetInput] = []
        models: list[str] = []
        if not folder.is_dir():
            return found, models
        for child in sorted(folder.iterdir()):
            if not (child / "meta.yaml").is_file():
                continue
            meta = read_yaml(child / "meta.yaml")
            if meta.get("source_type") == "DATASET":
                ds = datasets.get(str(meta.get("source_id")), {})
                found.append(
                    DatasetInput(
                        name=str(ds.get("name", "")),
                        digest=str(ds.get("digest", "")),
                        source_type=str(ds.get("source_type", "")),
                        source=str(ds.get("source", "")),
                        schema=ds.get("schema"),
                        profile=ds.get("profile"),
                        tags={str(k): str(v) for k, v in (meta.get("tags") or {}).items()},
                    )
                )
            elif meta.get("destination_type") == "MODEL_INPUT":
                models.append(str(meta.get("destination_id")))
        found.sort(key=lambda d: (d.name, d.digest))
        return found, models

    def _outputs(self, folder: Path) -> list[tuple[str, int]]:
        out: list[tuple[str, int]] = []
        if not folder.is_dir():
            return out
        for child in sorted(folder.iterdir()):
            if (child / "meta.yaml").is_file():
                meta = read_yaml(child / "meta.yaml")
                out.append(
                    (str(meta.get("destination_id", child.name)), int(meta.get("step") or 0))
                )
        return out

    # -- metrics ----------------------------------------------------------------

    def metric_counts(self, runs: Sequence[RunRecord]) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for run in runs:
            counts = self._counts.get(run.run_id)
            if counts is None:
                counts = {}
                for key, path in _metric_files(self._run_dirs[run.run_id] / "metrics").items():
                    with open(path, "rb") as fh:
                        data = fh.read()
                    counts[key] = data.count(b"\n") + (
                        1 if data and not data.endswith(b"\n") else 0
                    )
                self._counts[run.run_id] = counts
            out[run.run_id] = dict(counts)
        return out

    def series(self, runs: Sequence[RunRecord]) -> Iterator[tuple[str, dict[str, Series]]]:
        for run in runs:
            collector = SeriesCollector()
            counts: dict[str, int] = {}
            for key, path in _metric_files(self._run_dirs[run.run_id] / "metrics").items():
                stamps, values, steps, _ = parse_metric_lines(path.read_text(encoding="utf-8"))
                collector.add_arrays(run.run_id, key, steps, stamps, values)
                counts[key] = len(steps)
            self._counts[run.run_id] = counts
            yield run.run_id, collector.grouped().get(run.run_id, {})

    # -- models -----------------------------------------------------------------

    def logged_models(self, experiment: ExperimentRecord) -> list[LoggedModel]:
        base = self._exp_dirs[experiment.source_id] / "models"
        out: list[LoggedModel] = []
        if not base.is_dir():
            return out
        for child in sorted(base.iterdir()):
            if not (child / "meta.yaml").is_file():
                continue
            meta = read_yaml(child / "meta.yaml")
            model_id = str(meta.get("model_id", child.name))
            out.append(
                LoggedModel(
                    model_id=model_id,
                    experiment_id=experiment.source_id,
                    name=str(meta.get("name", "")),
                    artifact_location=str(meta.get("artifact_location") or ""),
                    creation_timestamp=int(meta.get("creation_timestamp") or 0),
                    last_updated_timestamp=int(meta.get("last_updated_timestamp") or 0),
                    status=LoggedModelStatus.parse(meta.get("status") or 0),
                    status_message=meta.get("status_message"),
                    model_type=meta.get("model_type"),
                    source_run_id=meta.get("source_run_id"),
                    lifecycle_stage=str(meta.get("lifecycle_stage") or ACTIVE),
                    params=read_key_values(child / "params"),
                    tags=read_key_values(child / "tags"),
                    metrics=tuple(self._model_metrics(child / "metrics", model_id)),
                )
            )
        return out

    def _model_metrics(self, folder: Path, model_id: str) -> list[LoggedModelMetric]:
        out = []
        for key, path in sorted(_metric_files(folder).items()):
            stamps, values, steps, extra = parse_metric_lines(path.read_text(encoding="utf-8"))
            for i in range(len(steps)):
                more = extra[i] if extra else []
                out.append(
                    LoggedModelMetric(
                        key=key,
                        value=float(values[i]),
                        timestamp=int(stamps[i]),
                        step=int(steps[i]),
                        run_id=more[0] if len(more) > 0 else None,
                        model_id=model_id,
                        dataset_name=more[1] if len(more) > 1 else None,
                        dataset_digest=more[2] if len(more) > 2 else None,
                    )
                )
        return out

    def registered_models(self) -> list[RegisteredModelRecord]:
        base = self.root / REGISTRY
        out: list[RegisteredModelRecord] = []
        if not base.is_dir():
            return out
        for child in sorted(base.iterdir()):
            if not (child / "meta.yaml").is_file():
                continue
            meta = read_yaml(child / "meta.yaml")
            if str(meta.get("workspace") or "default") != self._workspace:
                continue
            name = str(meta.get("name", child.name))
            versions, last = self._versions(child, name)
            aliases = {str(k): int(v) for k, v in (meta.get("aliases") or {}).items()}
            aliases.update(
                {k: int(v.strip()) for k, v in read_key_values(child / "aliases").items()}
            )
            out.append(
                RegisteredModelRecord(
                    name=name,
                    creation_timestamp=int(meta.get("creation_timestamp") or 0),
                    last_updated_timestamp=int(meta.get("last_updated_timestamp") or 0),
                    description=meta.get("description"),
                    tags=read_key_values(child / "tags"),
                    aliases=aliases,
                    versions=tuple(versions),
                    last_version=last,
                )
            )
        return out

    def _versions(self, folder: Path, name: str) -> tuple[list[ModelVersion], int]:
        versions: list[ModelVersion] = []
        last = 0
        for child in folder.iterdir():
            if not child.name.startswith("version-") or not (child / "meta.yaml").is_file():
                continue
            meta = read_yaml(child / "meta.yaml")
            number = int(meta.get("version") or child.name.split("-", 1)[1])
            last = max(last, number)
            if meta.get("current_stage") == DELETED_VERSION_STAGE:
                continue
            source = str(meta.get("source") or "")
            versions.append(
                ModelVersion(
                    name=name,
                    version=number,
                    creation_timestamp=int(meta.get("creation_timestamp") or 0),
                    last_updated_timestamp=int(meta.get("last_updated_timestamp") or 0),
                    current_stage=str(meta.get("current_stage") or "None"),
                    description=meta.get("description"),
                    source=source,
                    storage_location=str(meta.get("storage_location") or source),
                    run_id=meta.get("run_id"),
                    run_link=meta.get("run_link"),
                    model_id=meta.get("model_id") or model_id_of_source(source),
                    user_id=meta.get("user_id"),
                    status=str(meta.get("status") or "READY"),
                    status_message=meta.get("status_message"),
                    tags=read_key_values(child / "tags"),
                )
            )
        versions.sort(key=lambda v: v.version)
        return versions, last

    # -- artifacts -----------------------------------------------------------------

    def list_artifacts(self, location: str) -> list[ArtifactFile]:
        return self._reader.list(location)

    def location_exists(self, location: str) -> bool:
        return self._reader.exists(location)

    def open_artifact(self, location: str, path: str) -> Iterator[bytes]:
        return self._reader.open(location, path)

    def readable_location(self, location: str) -> str:
        return self._reader.resolve(location)

    def close(self) -> None:
        pass


def _status(value: Any) -> str:
    if value is None:
        return RunStatus.FINISHED.value
    try:
        return RunStatus.parse(int(value)).value
    except (ValueError, IndexError):
        return RunStatus.parse(str(value)).value
