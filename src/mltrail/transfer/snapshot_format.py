"""The snapshot format: Parquet tables, the artifact files, and a manifest.

A snapshot is a folder::

    manifest.json            format name and version, counts, each table's rows and SHA-256
    experiments.parquet      experiment_id, name, artifact_location, lifecycle_stage, ...
    experiment_tags.parquet  experiment_id, key, value
    runs.parquet             run_id, experiment_id, run_name, user_id, status, start/end ...
    params.parquet           run_id, key, value
    tags.parquet             run_id, key, value
    metrics.parquet          run_id, key, step, timestamp, value (sorted by run, key, step)
    logged_models.parquet (+ logged_model_params, _tags, _metrics)
    registered_models.parquet (+ registered_model_tags, registered_model_aliases)
    model_versions.parquet (+ model_version_tags)
    artifacts.parquet        owner ("run"/"model"), owner_id, path, size, sha256
    artifacts/runs/<run_id>/<path>, artifacts/models/<model_id>/<path>

The files open directly in pandas, polars and DuckDB. ``manifest.json`` is written last:
a folder without it is an unfinished export.
"""

from __future__ import annotations

import pyarrow as pa

FORMAT = "mltrail-snapshot"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
ARTIFACTS_DIR = "artifacts"

_S, _I, _F = pa.string(), pa.int64(), pa.float64()

TABLES: dict[str, pa.Schema] = {
    "experiments": pa.schema(
        [
            ("experiment_id", _S),
            ("name", _S),
            ("artifact_location", _S),
            ("lifecycle_stage", _S),
            ("creation_time", _I),
            ("last_update_time", _I),
            ("deleted_time", _I),
        ]
    ),
    "experiment_tags": pa.schema([("experiment_id", _S), ("key", _S), ("value", _S)]),
    "runs": pa.schema(
        [
            ("run_id", _S),
            ("experiment_id", _S),
            ("run_name", _S),
            ("user_id", _S),
            ("status", _S),
            ("start_time", _I),
            ("end_time", _I),
            ("lifecycle_stage", _S),
            ("deleted_time", _I),
            ("artifact_uri", _S),
        ]
    ),
    "params": pa.schema([("run_id", _S), ("key", _S), ("value", _S)]),
    "tags": pa.schema([("run_id", _S), ("key", _S), ("value", _S)]),
    "metrics": pa.schema(
        [("run_id", _S), ("key", _S), ("step", _I), ("timestamp", _I), ("value", _F)]
    ),
    "logged_models": pa.schema(
        [
            ("model_id", _S),
            ("experiment_id", _S),
            ("name", _S),
            ("artifact_location", _S),
            ("creation_timestamp", _I),
            ("last_updated_timestamp", _I),
            ("status", _S),
            ("status_message", _S),
            ("model_type", _S),
            ("source_run_id", _S),
            ("lifecycle_stage", _S),
        ]
    ),
    "logged_model_params": pa.schema([("model_id", _S), ("key", _S), ("value", _S)]),
    "logged_model_tags": pa.schema([("model_id", _S), ("key", _S), ("value", _S)]),
    "logged_model_metrics": pa.schema(
        [
            ("model_id", _S),
            ("key", _S),
            ("value", _F),
            ("timestamp", _I),
            ("step", _I),
            ("run_id", _S),
            ("dataset_name", _S),
            ("dataset_digest", _S),
        ]
    ),
    "registered_models": pa.schema(
        [
            ("name", _S),
            ("creation_timestamp", _I),
            ("last_updated_timestamp", _I),
            ("description", _S),
            ("user_id", _S),
            ("last_version", _I),
        ]
    ),
    "registered_model_tags": pa.schema([("name", _S), ("key", _S), ("value", _S)]),
    "registered_model_aliases": pa.schema([("name", _S), ("alias", _S), ("version", _I)]),
    "model_versions": pa.schema(
        [
            ("name", _S),
            ("version", _I),
            ("creation_timestamp", _I),
            ("last_updated_timestamp", _I),
            ("current_stage", _S),
            ("description", _S),
            ("user_id", _S),
            ("source", _S),
            ("storage_location", _S),
            ("run_id", _S),
            ("run_link", _S),
            ("model_id", _S),
            ("status", _S),
            ("status_message", _S),
        ]
    ),
    "model_version_tags": pa.schema([("name", _S), ("version", _I), ("key", _S), ("value", _S)]),
    "artifacts": pa.schema(
        [("owner", _S), ("owner_id", _S), ("path", _S), ("size", _I), ("sha256", _S)]
    ),
}


def file_name(table: str) -> str:
    return f"{table}.parquet"
