"""A snapshot folder (``mltrail export``) read back: the source of ``mltrail import mltrail``.

Opening it checks the manifest (format, version), that every table is there with the rows
and SHA-256 the manifest records, and that the artifact files have their recorded sizes;
each file's SHA-256 is checked again while it is copied, so a corrupted byte stops that
file (it never lands in the target) with a message that names it.

Records keep the locations they had in the exported store; reading an artifact of such a
location reads the snapshot's copy. So version sources that pointed into a run's or a
model's artifacts are rewritten to the restored locations like on any import.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from mltrail.config import Settings
from mltrail.model_entities import LoggedModel, LoggedModelMetric, LoggedModelStatus, ModelVersion
from mltrail.store.sql.metrics import Series, sorted_series
from mltrail.transfer.errors import CorruptSnapshot
from mltrail.transfer.records import (
    ArtifactFile,
    ExperimentRecord,
    RegisteredModelRecord,
    RunRecord,
    digest,
)
from mltrail.transfer.snapshot_format import (
    ARTIFACTS_DIR,
    FORMAT,
    FORMAT_VERSION,
    MANIFEST,
    TABLES,
    file_name,
)
from mltrail.transfer.sources.locations import CHUNK_BYTES, UnreadableLocation


def _rows(table: pa.Table) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = table.to_pylist()
    return rows


def _i(value: Any) -> int:
    return 0 if value is None else int(value)


class SnapshotSource:
    counts_are_cheap = True

    def __init__(self, folder: Path, *, settings: Settings) -> None:
        self.folder = folder.resolve()
        self.label = f"mltrail snapshot {self.folder}"
        self.manifest = self._manifest()
        self._tables: dict[str, pa.Table] = {}
        for name in TABLES:
            self._tables[name] = self._load(name)
        self._artifacts = self._artifact_index()
        self._locations: dict[str, tuple[str, str]] = {}
        self._index_metrics()

    # -- opening and checking ------------------------------------------------------

    def _manifest(self) -> dict[str, Any]:
        path = self.folder / MANIFEST
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise CorruptSnapshot(
                f"{self.folder} has no {MANIFEST}: it is not a snapshot, or its export did not finish"
            ) from None
        except (OSError, ValueError) as exc:
            raise CorruptSnapshot(f"{path} is unreadable: {exc}") from exc
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise CorruptSnapshot(f"{path} does not describe an mltrail snapshot")
        version = manifest.get("format_version")
        if version != FORMAT_VERSION:
            raise CorruptSnapshot(
                f"{path} is format version {version}; this mltrail reads version {FORMAT_VERSION}"
            )
        return manifest

    def _load(self, name: str) -> pa.Table:
        entry = self.manifest.get("tables", {}).get(name)
        path = self.folder / file_name(name)
        if not isinstance(entry, dict):
            raise CorruptSnapshot(f"{self.folder / MANIFEST} does not list the table {name!r}")
        if not path.is_file():
            raise CorruptSnapshot(f"The snapshot table {path} is missing")
        if _sha256(path) != entry.get("sha256"):
            raise CorruptSnapshot(
                f"The snapshot table {path} does not match its checksum in {MANIFEST} "
                "(the file was changed or damaged)"
            )
        try:
            # Series ids stay dictionary-encoded: 6,000,000 points are not 12,000,000 strings.
            columns = ["run_id", "key"] if name == "metrics" else None
            table = pq.read_table(path, read_dictionary=columns)
        except (OSError, pa.ArrowException) as exc:
            raise CorruptSnapshot(f"The snapshot table {path} is unreadable: {exc}") from exc
        if table.num_rows != entry.get("rows"):
            raise CorruptSnapshot(
                f"The snapshot table {path} has {table.num_rows} rows; {MANIFEST} says "
                f"{entry.get('rows')}"
            )
        missing = [f.name for f in TABLES[name] if f.name not in table.column_names]
        if missing:
            raise CorruptSnapshot(f"The snapshot table {path} lacks the columns {missing}")
        return table

    def _artifact_index(self) -> dict[tuple[str, str], dict[str, tuple[int, str]]]:
        index: dict[tuple[str, str], dict[str, tuple[int, str]]] = {}
        for row in _rows(self._tables["artifacts"]):
            owner = (row["owner"], row["owner_id"])
            path = self.folder / ARTIFACTS_DIR / f"{row['owner']}s" / row["owner_id"] / row["path"]
            if not path.is_file() or path.stat().st_size != row["size"]:
                raise CorruptSnapshot(
                    f"The snapshot's artifact file {path} is missing or does not have its "
                    f"recorded size ({row['size']} bytes)"
                )
            index.setdefault(owner, {})[row["path"]] = (int(row["size"]), row["sha256"])
        return index

    def _index_metrics(self) -> None:
        table = self._tables["metrics"]
        self._ranges: dict[str, dict[str, tuple[int, int]]] = {}
        self._counts: dict[str, dict[str, int]] = {}
        if not table.num_rows:
            return
        run_names, run_idx = _codes(table.column("run_id"))
        key_names, key_idx = _codes(table.column("key"))
        code = run_idx * max(1, len(key_names)) + key_idx
        bounds = np.flatnonzero(np.diff(code)) + 1
        starts = np.concatenate(([0], bounds))
        ends = np.concatenate((bounds, [len(code)]))
        firsts = zip(run_idx[starts].tolist(), key_idx[starts].tolist(), strict=True)
        for start, end, (r, k) in zip(starts.tolist(), ends.tolist(), firsts, strict=True):
            run_id, key = run_names[r], key_names[k]
            slot = self._ranges.setdefault(run_id, {})
            if key in slot:
                raise CorruptSnapshot(
                    f"{self.folder / file_name('metrics')}: the points of run {run_id} key "
                    f"{key!r} are not contiguous"
                )
            slot[key] = (start, end)
            self._counts.setdefault(run_id, {})[key] = end - start
        self._steps = table.column("step").to_numpy()
        self._stamps = table.column("timestamp").to_numpy()
        self._values = table.column("value").to_numpy()

    # -- records ---------------------------------------------------------------------

    def experiments(self) -> list[ExperimentRecord]:
        tags: dict[str, dict[str, str]] = {}
        for row in _rows(self._tables["experiment_tags"]):
            tags.setdefault(row["experiment_id"], {})[row["key"]] = row["value"]
        return [
            ExperimentRecord(
                source_id=row["experiment_id"],
                name=row["name"],
                artifact_location=row["artifact_location"] or "",
                lifecycle_stage=row["lifecycle_stage"],
                creation_time=_i(row["creation_time"]),
                last_update_time=_i(row["last_update_time"]),
                deleted_time=row["deleted_time"],
                tags=tags.get(row["experiment_id"], {}),
            )
            for row in _rows(self._tables["experiments"])
        ]

    def runs(self, experiment: ExperimentRecord) -> list[RunRecord]:
        if not hasattr(self, "_run_rows"):
            self._run_rows: dict[str, list[dict[str, Any]]] = {}
            for row in _rows(self._tables["runs"]):
                self._run_rows.setdefault(row["experiment_id"], []).append(row)
            self._params = _owned(self._tables["params"], "run_id")
            self._tags = _owned(self._tables["tags"], "run_id")
        out = []
        for row in self._run_rows.get(experiment.source_id, []):
            run_id = row["run_id"]
            self._locations[row["artifact_uri"] or ""] = ("run", run_id)
            out.append(
                RunRecord(
                    run_id=run_id,
                    experiment_id=experiment.source_id,
                    run_name=row["run_name"] or "",
                    user_id=row["user_id"] or "",
                    status=row["status"],
                    start_time=_i(row["start_time"]),
                    end_time=row["end_time"],
                    lifecycle_stage=row["lifecycle_stage"],
                    artifact_uri=row["artifact_uri"] or "",
                    deleted_time=row["deleted_time"],
                    params=self._params.get(run_id, {}),
                    tags=self._tags.get(run_id, {}),
                    metrics_hint=digest(sorted(self._counts.get(run_id, {}).items())),
                )
            )
        return out

    def metric_counts(self, runs: Sequence[RunRecord]) -> dict[str, dict[str, int]]:
        return {r.run_id: dict(self._counts.get(r.run_id, {})) for r in runs}

    def series(self, runs: Sequence[RunRecord]) -> Iterator[tuple[str, dict[str, Series]]]:
        for run in runs:
            out: dict[str, Series] = {}
            for key, (start, end) in self._ranges.get(run.run_id, {}).items():
                out[key] = sorted_series(
                    np.array(self._steps[start:end], dtype=np.int64),
                    np.array(self._stamps[start:end], dtype=np.int64),
                    np.array(self._values[start:end], dtype=np.float64),
                )
            yield run.run_id, out

    def logged_models(self, experiment: ExperimentRecord) -> list[LoggedModel]:
        if not hasattr(self, "_model_rows"):
            self._model_rows: dict[str, list[dict[str, Any]]] = {}
            for row in _rows(self._tables["logged_models"]):
                self._model_rows.setdefault(row["experiment_id"], []).append(row)
            self._model_params = _owned(self._tables["logged_model_params"], "model_id")
            self._model_tags = _owned(self._tables["logged_model_tags"], "model_id")
            self._model_metrics: dict[str, list[LoggedModelMetric]] = {}
            for m in _rows(self._tables["logged_model_metrics"]):
                self._model_metrics.setdefault(m["model_id"], []).append(
                    LoggedModelMetric(
                        key=m["key"],
                        value=math.nan if m["value"] is None else float(m["value"]),
                        timestamp=_i(m["timestamp"]),
                        step=_i(m["step"]),
                        run_id=m["run_id"],
                        model_id=m["model_id"],
                        dataset_name=m["dataset_name"],
                        dataset_digest=m["dataset_digest"],
                    )
                )
        out = []
        for row in self._model_rows.get(experiment.source_id, []):
            model_id = row["model_id"]
            self._locations[row["artifact_location"] or ""] = ("model", model_id)
            out.append(
                LoggedModel(
                    model_id=model_id,
                    experiment_id=experiment.source_id,
                    name=row["name"],
                    artifact_location=row["artifact_location"] or "",
                    creation_timestamp=_i(row["creation_timestamp"]),
                    last_updated_timestamp=_i(row["last_updated_timestamp"]),
                    status=LoggedModelStatus.parse(row["status"]),
                    status_message=row["status_message"],
                    model_type=row["model_type"],
                    source_run_id=row["source_run_id"],
                    lifecycle_stage=row["lifecycle_stage"],
                    params=self._model_params.get(model_id, {}),
                    tags=self._model_tags.get(model_id, {}),
                    metrics=tuple(self._model_metrics.get(model_id, [])),
                )
            )
        return out

    def registered_models(self) -> list[RegisteredModelRecord]:
        rm_tags = _owned(self._tables["registered_model_tags"], "name")
        aliases: dict[str, dict[str, int]] = {}
        for row in _rows(self._tables["registered_model_aliases"]):
            aliases.setdefault(row["name"], {})[row["alias"]] = int(row["version"])
        vtags: dict[tuple[str, int], dict[str, str]] = {}
        for row in _rows(self._tables["model_version_tags"]):
            vtags.setdefault((row["name"], int(row["version"])), {})[row["key"]] = row["value"]
        versions: dict[str, list[ModelVersion]] = {}
        for v in _rows(self._tables["model_versions"]):
            number = int(v["version"])
            versions.setdefault(v["name"], []).append(
                ModelVersion(
                    name=v["name"],
                    version=number,
                    creation_timestamp=_i(v["creation_timestamp"]),
                    last_updated_timestamp=_i(v["last_updated_timestamp"]),
                    current_stage=v["current_stage"],
                    description=v["description"],
                    source=v["source"] or "",
                    storage_location=v["storage_location"] or "",
                    run_id=v["run_id"],
                    run_link=v["run_link"],
                    model_id=v["model_id"],
                    user_id=v["user_id"],
                    status=v["status"],
                    status_message=v["status_message"],
                    tags=vtags.get((v["name"], number), {}),
                )
            )
        return [
            RegisteredModelRecord(
                name=row["name"],
                creation_timestamp=_i(row["creation_timestamp"]),
                last_updated_timestamp=_i(row["last_updated_timestamp"]),
                description=row["description"],
                user_id=row["user_id"],
                tags=rm_tags.get(row["name"], {}),
                aliases=aliases.get(row["name"], {}),
                versions=tuple(sorted(versions.get(row["name"], []), key=lambda v: v.version)),
                last_version=_i(row["last_version"]),
            )
            for row in _rows(self._tables["registered_models"])
        ]

    # -- artifacts: a recorded location reads the snapshot's copy --------------------------

    def _owner(self, location: str) -> tuple[str, str]:
        owner = self._locations.get(location)
        if owner is None:
            raise UnreadableLocation(f"{location} is not an artifact location of {self.label}")
        return owner

    def list_artifacts(self, location: str) -> list[ArtifactFile]:
        files = self._artifacts.get(self._owner(location), {})
        return [ArtifactFile(path, size) for path, (size, _) in sorted(files.items())]

    def location_exists(self, location: str) -> bool:
        return location in self._locations and bool(self._artifacts.get(self._locations[location]))

    def readable_location(self, location: str) -> str:
        owner, owner_id = self._owner(location)
        return str(self.folder / ARTIFACTS_DIR / f"{owner}s" / owner_id)

    def open_artifact(self, location: str, path: str) -> Iterator[bytes]:
        owner = self._owner(location)
        _size, expected = self._artifacts[owner][path]
        full = self.folder / ARTIFACTS_DIR / f"{owner[0]}s" / owner[1] / path
        h = hashlib.sha256()
        with open(full, "rb") as fh:
            while chunk := fh.read(CHUNK_BYTES):
                h.update(chunk)
                yield chunk
        if h.hexdigest() != expected:
            raise CorruptSnapshot(
                f"The snapshot's artifact file {full} does not match its checksum (damaged)"
            )

    def close(self) -> None:
        self._tables.clear()


def _codes(column: pa.ChunkedArray) -> tuple[list[str], np.ndarray]:
    """(distinct values, the index of each row's value) of a string or dictionary column."""
    if not pa.types.is_dictionary(column.type):
        column = column.dictionary_encode()
    column = column.unify_dictionaries()
    chunks = column.chunks
    names = chunks[0].dictionary.to_pylist() if chunks else []
    indices = [c.indices.to_numpy(zero_copy_only=False) for c in chunks]
    return names, np.concatenate(indices).astype(np.int64) if indices else np.empty(0, np.int64)


def _owned(table: pa.Table, owner: str) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    columns = table.to_pydict()
    for o, k, v in zip(columns[owner], columns["key"], columns["value"], strict=True):
        out.setdefault(o, {})[k] = v
    return out


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()
