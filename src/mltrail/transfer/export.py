"""``mltrail export DEST``: a store (or some of its experiments) as a snapshot folder.

Tables are written as they are read, a batch of runs at a time, so memory stays bounded;
artifact files are copied with their SHA-256 recorded; the manifest comes last.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from mltrail.errors import InvalidParameterValue
from mltrail.model_entities import LoggedModel
from mltrail.transfer import plan as planning
from mltrail.transfer.errors import TargetFull
from mltrail.transfer.progress import Progress
from mltrail.transfer.records import DELETED, RegisteredModelRecord, RunRecord
from mltrail.transfer.snapshot_format import (
    ARTIFACTS_DIR,
    FORMAT,
    FORMAT_VERSION,
    MANIFEST,
    TABLES,
    file_name,
)
from mltrail.transfer.sources.base import Source
from mltrail.version import __version__

ROWS_PER_GROUP = 1_000_000


class TableWriter:
    """Rows of one table, buffered by column and written in row groups."""

    def __init__(self, folder: Path, name: str) -> None:
        self.name = name
        self.path = folder / file_name(name)
        self.schema = TABLES[name]
        # No min/max statistics on float columns: readers that trust them (DuckDB) would
        # conclude that a row group with NaN among its values holds none.
        stats = [f.name for f in self.schema if not pa.types.is_floating(f.type)]
        self._writer = pq.ParquetWriter(
            self.path, self.schema, compression="zstd", write_statistics=stats
        )
        self._columns: dict[str, list[Any]] = {f.name: [] for f in self.schema}
        self._buffered = 0
        self.rows = 0

    def add(self, **row: Any) -> None:
        for name, column in self._columns.items():
            column.append(row.get(name))
        self._buffered += 1
        if self._buffered >= ROWS_PER_GROUP:
            self.flush()

    def write(self, table: pa.Table) -> None:
        self.flush()
        self._writer.write_table(table, row_group_size=ROWS_PER_GROUP)
        self.rows += table.num_rows

    def flush(self) -> None:
        if not self._buffered:
            return
        table = pa.table(self._columns, schema=self.schema)
        self._writer.write_table(table)
        self.rows += table.num_rows
        self._columns = {f.name: [] for f in self.schema}
        self._buffered = 0

    def close(self) -> dict[str, Any]:
        self.flush()
        self._writer.close()
        return {"file": self.path.name, "rows": self.rows, "sha256": sha256_of(self.path)}


class MetricsWriter:
    """Series in long form (run_id, key, step, timestamp, value), in row groups of ~1M rows."""

    def __init__(self, table: TableWriter) -> None:
        self.table = table
        self._series: list[tuple[str, str, Any]] = []
        self._rows = 0

    def add(self, run_id: str, key: str, series: Any) -> None:
        self._series.append((run_id, key, series))
        self._rows += len(series)
        if self._rows >= ROWS_PER_GROUP:
            self.flush()

    def flush(self) -> None:
        if not self._series:
            return
        lengths = np.array([len(s) for _, _, s in self._series], dtype=np.int64)
        index = np.repeat(np.arange(len(self._series)), lengths)
        run_ids = pa.array([r for r, _, _ in self._series], type=pa.string()).take(index)
        keys = pa.array([k for _, k, _ in self._series], type=pa.string()).take(index)
        columns = {
            "run_id": run_ids,
            "key": keys,
            "step": np.concatenate([s.steps for _, _, s in self._series]),
            "timestamp": np.concatenate([s.timestamps for _, _, s in self._series]),
            "value": np.concatenate([s.values for _, _, s in self._series]),
        }
        self.table.write(pa.table(columns, schema=self.table.schema))
        self._series, self._rows = [], 0


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True)
class ExportOptions:
    experiments: tuple[str, ...] = ()
    include_deleted: bool = False


@dataclass
class ExportReport:
    dest: Path
    counts: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


class Exporter:
    def __init__(
        self,
        source: Source,
        dest: Path,
        *,
        options: ExportOptions,
        progress: Progress | None = None,
    ) -> None:
        self.source = source
        self.dest = dest
        self.options = options
        self.progress = progress or Progress(enabled=False)
        self.report = ExportReport(dest)
        self.w: dict[str, TableWriter] = {}
        self.run_ids: set[str] = set()
        self.model_ids: set[str] = set()
        self.artifact_files = 0
        self.artifact_bytes = 0

    def run(self) -> ExportReport:
        if self.dest.exists() and any(self.dest.iterdir()):
            raise InvalidParameterValue(f"DEST {self.dest} exists and is not empty")
        self.dest.mkdir(parents=True, exist_ok=True)
        self.w = {name: TableWriter(self.dest, name) for name in TABLES}
        self.metrics = MetricsWriter(self.w["metrics"])
        try:
            records, notes = planning.select_experiments(
                self.source.experiments(),
                names=self.options.experiments,
                include_deleted=self.options.include_deleted,
                source_label=self.source.label,
            )
            self.report.notes.extend(notes)
            for record in records:
                self._experiment(record)
            self._registry()
            self.metrics.flush()
            tables = {name: writer.close() for name, writer in self.w.items()}
        except OSError as exc:
            if exc.errno == 28:
                raise TargetFull(f"The disk under {self.dest} is full: {exc}") from exc
            raise
        finally:
            self.progress.close()
        counts = {
            "experiments": tables["experiments"]["rows"],
            "runs": tables["runs"]["rows"],
            "params": tables["params"]["rows"],
            "tags": tables["tags"]["rows"],
            "metric_points": tables["metrics"]["rows"],
            "logged_models": tables["logged_models"]["rows"],
            "registered_models": tables["registered_models"]["rows"],
            "model_versions": tables["model_versions"]["rows"],
            "artifact_files": self.artifact_files,
            "artifact_bytes": self.artifact_bytes,
        }
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "created_at": int(time.time() * 1000),
            "mltrail_version": __version__,
            "source": self.source.label,
            "experiments": list(self.options.experiments),
            "include_deleted": self.options.include_deleted,
            "counts": counts,
            "tables": tables,
        }
        tmp = self.dest / f".{MANIFEST}.tmp"
        tmp.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, self.dest / MANIFEST)
        self.report.counts = counts
        return self.report

    # -- experiments, runs, models -------------------------------------------------

    def _experiment(self, record: Any) -> None:
        self.w["experiments"].add(
            experiment_id=record.source_id,
            name=record.name,
            artifact_location=record.artifact_location,
            lifecycle_stage=record.lifecycle_stage,
            creation_time=record.creation_time,
            last_update_time=record.last_update_time,
            deleted_time=record.deleted_time,
        )
        for key, value in record.tags.items():
            self.w["experiment_tags"].add(experiment_id=record.source_id, key=key, value=value)
        runs = self.source.runs(record)
        if not self.options.include_deleted:
            runs = [r for r in runs if not r.deleted]
        self.progress.runs_total += len(runs)
        by_id = {r.run_id: r for r in runs}
        for run_id, series in self.source.series(runs):
            self._run(by_id[run_id], series)
        for model in self.source.logged_models(record):
            if model.lifecycle_stage == DELETED and not self.options.include_deleted:
                continue
            self._model(model)

    def _run(self, run: RunRecord, series: dict[str, Any]) -> None:
        self.run_ids.add(run.run_id)
        self.w["runs"].add(
            run_id=run.run_id,
            experiment_id=run.experiment_id,
            run_name=run.run_name,
            user_id=run.user_id,
            status=run.status,
            start_time=run.start_time,
            end_time=run.end_time,
            lifecycle_stage=run.lifecycle_stage,
            deleted_time=run.deleted_time,
            artifact_uri=run.artifact_uri,
        )
        for key, value in run.params.items():
            self.w["params"].add(run_id=run.run_id, key=key, value=value)
        for key, value in run.all_tags().items():
            self.w["tags"].add(run_id=run.run_id, key=key, value=value)
        points = 0
        for key in sorted(series):
            if len(series[key]):
                self.metrics.add(run.run_id, key, series[key])
                points += len(series[key])
        self._artifacts("run", run.run_id, run.artifact_uri)
        self.progress.add(runs=1, points=points)

    def _model(self, model: LoggedModel) -> None:
        self.model_ids.add(model.model_id)
        self.w["logged_models"].add(
            model_id=model.model_id,
            experiment_id=model.experiment_id,
            name=model.name,
            artifact_location=model.artifact_location,
            creation_timestamp=model.creation_timestamp,
            last_updated_timestamp=model.last_updated_timestamp,
            status=model.status.value,
            status_message=model.status_message,
            model_type=model.model_type,
            source_run_id=model.source_run_id,
            lifecycle_stage=model.lifecycle_stage,
        )
        for key, value in model.params.items():
            self.w["logged_model_params"].add(model_id=model.model_id, key=key, value=value)
        for key, value in model.tags.items():
            self.w["logged_model_tags"].add(model_id=model.model_id, key=key, value=value)
        for m in model.metrics:
            self.w["logged_model_metrics"].add(
                model_id=model.model_id,
                key=m.key,
                value=m.value,
                timestamp=m.timestamp,
                step=m.step,
                run_id=m.run_id,
                dataset_name=m.dataset_name,
                dataset_digest=m.dataset_digest,
            )
        self._artifacts("model", model.model_id, model.artifact_location)

    # -- artifacts -------------------------------------------------------------------

    def _artifacts(self, owner: str, owner_id: str, location: str) -> None:
        if not location:
            return
        try:
            files = self.source.list_artifacts(location)
        except Exception as exc:
            self.report.problems.append(f"{owner} {owner_id}: cannot list {location}: {exc}")
            return
        folder = self.dest / ARTIFACTS_DIR / f"{owner}s" / owner_id
        for f in files:
            out = folder / f.path
            out.parent.mkdir(parents=True, exist_ok=True)
            h = hashlib.sha256()
            size = 0
            try:
                with open(out, "wb") as fh:
                    for chunk in self._chunks(location, f.path):
                        fh.write(chunk)
                        h.update(chunk)
                        size += len(chunk)
            except FileNotFoundError:
                self.report.problems.append(
                    f"{owner} {owner_id}: artifact {f.path} is missing at the source ({location})"
                )
                out.unlink(missing_ok=True)
                continue
            self.w["artifacts"].add(
                owner=owner, owner_id=owner_id, path=f.path, size=size, sha256=h.hexdigest()
            )
            self.artifact_files += 1
            self.artifact_bytes += size

    def _chunks(self, location: str, path: str) -> Iterator[bytes]:
        for chunk in self.source.open_artifact(location, path):
            self.progress.add(nbytes=len(chunk))
            yield chunk

    # -- registry --------------------------------------------------------------------

    def _registry(self) -> None:
        filtered = bool(self.options.experiments)
        for record in self.source.registered_models():
            versions = [
                v
                for v in record.versions
                if not filtered or v.run_id in self.run_ids or (v.model_id or "") in self.model_ids
            ]
            if filtered and not versions:
                continue
            self._registered(record, versions)

    def _registered(self, record: RegisteredModelRecord, versions: list[Any]) -> None:
        self.w["registered_models"].add(
            name=record.name,
            creation_timestamp=record.creation_timestamp,
            last_updated_timestamp=record.last_updated_timestamp,
            description=record.description,
            user_id=record.user_id,
            last_version=record.last_version,
        )
        for key, value in record.tags.items():
            self.w["registered_model_tags"].add(name=record.name, key=key, value=value)
        numbers = {v.version for v in versions}
        for alias, version in record.aliases.items():
            if version in numbers:
                self.w["registered_model_aliases"].add(
                    name=record.name, alias=alias, version=version
                )
        for v in versions:
            self.w["model_versions"].add(
                name=record.name,
                version=v.version,
                creation_timestamp=v.creation_timestamp,
                last_updated_timestamp=v.last_updated_timestamp,
                current_stage=v.current_stage,
                description=v.description,
                user_id=v.user_id,
                source=v.source,
                storage_location=v.storage_location,
                run_id=v.run_id,
                run_link=v.run_link,
                model_id=v.model_id,
                status=v.status,
                status_message=v.status_message,
            )
            for key, value in v.tags.items():
                self.w["model_version_tags"].add(
                    name=record.name, version=v.version, key=key, value=value
                )
