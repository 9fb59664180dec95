"""`mltrail export` and `mltrail import mltrail`: a round trip loses nothing, the Parquet
files open in DuckDB and pandas, and a damaged snapshot is refused with a clear message."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest

from mltrail.config import load_settings
from mltrail.transfer.sources.mltrail_sql import MltrailSqlSource

from .conftest import MlflowData, mltrail, start_mltrail_server, stop


def _dump(store: Path) -> dict[str, Any]:
    """Every entity of a folder store, ids kept, locations relative to the store."""
    root = (store / "artifacts").as_uri()
    source = MltrailSqlSource(f"sqlite:///{store / 'mltrail.db'}", settings=load_settings())

    def rel(uri: str | None) -> str | None:
        return None if uri is None else uri.replace(root, "<root>")

    try:
        out: dict[str, Any] = {"experiments": {}, "runs": {}, "models": {}, "registry": {}}
        for exp in source.experiments():
            record = exp.__dict__ | {"artifact_location": None, "source_id": None}
            if exp.source_id == "0":
                record.update(creation_time=None, last_update_time=None)
            out["experiments"][exp.name] = record
            runs = source.runs(exp)
            for run_id, series in source.series(runs):
                run = next(r for r in runs if r.run_id == run_id)
                out["runs"][run_id] = run.__dict__ | {
                    "experiment_id": exp.name,
                    "artifact_uri": rel(run.artifact_uri),
                    "series": {
                        k: (s.steps.tobytes(), s.timestamps.tobytes(), s.values.tobytes())
                        for k, s in series.items()
                    },
                    "files": _files(Path(run.artifact_uri.removeprefix("file://"))),
                }
            for model in source.logged_models(exp):
                out["models"][model.model_id] = model.__dict__ | {
                    "experiment_id": exp.name,
                    "artifact_location": rel(model.artifact_location),
                    "files": _files(Path(model.artifact_location.removeprefix("file://"))),
                }
        for rm in source.registered_models():
            versions = [
                v.__dict__ | {"source": rel(v.source), "storage_location": rel(v.storage_location)}
                for v in rm.versions
            ]
            out["registry"][rm.name] = rm.__dict__ | {"versions": versions}
        return out
    finally:
        source.close()


def _files(folder: Path) -> dict[str, str]:
    if not folder.is_dir():
        return {}
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def imported(mlflow_sqlite: MlflowData, tmp_path_factory: pytest.TempPathFactory) -> Path:
    store = tmp_path_factory.mktemp("imported") / "store"
    result = mltrail("--tracking-uri", str(store), "import", "mlflow", mlflow_sqlite.source,
                     "--include-deleted")  # fmt: skip
    assert result.exit_code == 0, result.output
    return store


def test_export_then_import_loses_nothing(imported: Path, tmp_path: Path) -> None:
    snapshot = tmp_path / "snapshot"
    exported = mltrail(
        "--tracking-uri", str(imported), "export", str(snapshot), "--include-deleted"
    )
    assert exported.exit_code == 0, exported.output
    manifest = json.loads((snapshot / "manifest.json").read_text())
    assert manifest["format"] == "mltrail-snapshot" and manifest["format_version"] == 1
    assert manifest["counts"]["runs"] == 11 and manifest["counts"]["metric_points"] == 3074
    restored = tmp_path / "restored"
    result = mltrail("--tracking-uri", str(restored), "import", "mltrail", str(snapshot),
                     "--include-deleted")  # fmt: skip
    assert result.exit_code == 0, result.output
    before, after = _dump(imported), _dump(restored)
    assert before["runs"].keys() == after["runs"].keys()
    for run_id, run in before["runs"].items():
        assert after["runs"][run_id] == run, run_id
    assert after == before
    assert any(run["files"] for run in before["runs"].values())
    assert all(model["files"] for model in before["models"].values())


def test_duckdb_and_pandas_read_the_snapshot(imported: Path, tmp_path: Path) -> None:
    snapshot = tmp_path / "snapshot"
    assert mltrail("--tracking-uri", str(imported), "export", str(snapshot)).exit_code == 0
    metrics = str(snapshot / "metrics.parquet")
    rows = duckdb.sql(
        f"SELECT r.run_name, m.key, count(*) AS points, max(m.step) AS last_step "
        f"FROM '{metrics}' m JOIN '{snapshot / 'runs.parquet'}' r USING (run_id) "
        f"WHERE m.key = 'long' GROUP BY ALL"
    ).fetchall()
    assert rows == [("parent", "long", 3000, 2999)]
    nan_count = duckdb.sql(f"SELECT count(*) FROM '{metrics}' WHERE isnan(value)").fetchall()
    assert nan_count == [(1,)]
    frame = pd.read_parquet(snapshot / "params.parquet")
    assert set(frame.columns) == {"run_id", "key", "value"}
    versions = pd.read_parquet(snapshot / "model_versions.parquet")
    assert sorted(versions["version"]) == [1, 3]


def test_only_some_experiments(imported: Path, tmp_path: Path) -> None:
    snapshot = tmp_path / "snapshot"
    result = mltrail(
        "--tracking-uri", str(imported), "export", str(snapshot), "--experiment", "vision"
    )
    assert result.exit_code == 0, result.output
    experiments = pd.read_parquet(snapshot / "experiments.parquet")
    assert list(experiments["name"]) == ["vision"]
    # The registered model's versions belong to another experiment's runs.
    assert pd.read_parquet(snapshot / "registered_models.parquet").empty


def test_export_over_http_matches_the_database(imported: Path, tmp_path: Path) -> None:
    direct = tmp_path / "direct"
    assert mltrail("--tracking-uri", str(imported), "export", str(direct)).exit_code == 0
    proc, server = start_mltrail_server(tmp_path, backend=str(imported))
    try:
        over_http = tmp_path / "over-http"
        result = mltrail("--tracking-uri", server.url, "export", str(over_http))
        assert result.exit_code == 0, result.output
    finally:
        stop(proc)
    counts = json.loads((over_http / "manifest.json").read_text())["counts"]
    assert counts == json.loads((direct / "manifest.json").read_text())["counts"]
    a = pd.read_parquet(direct / "metrics.parquet").sort_values(
        ["run_id", "key", "step", "timestamp"]
    )
    b = pd.read_parquet(over_http / "metrics.parquet").sort_values(
        ["run_id", "key", "step", "timestamp"]
    )
    assert a[["run_id", "key", "step", "timestamp"]].values.tolist() == (
        b[["run_id", "key", "step", "timestamp"]].values.tolist()
    )


@pytest.fixture
def snapshot(imported: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "snapshot"
    assert mltrail("--tracking-uri", str(imported), "export", str(folder)).exit_code == 0
    return folder


def _restore(snapshot: Path, target: Path) -> Any:
    return mltrail("--tracking-uri", str(target), "import", "mltrail", str(snapshot))


def test_a_damaged_snapshot_is_refused_and_names_the_file(snapshot: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(snapshot, broken)
    metrics = broken / "metrics.parquet"
    data = bytearray(metrics.read_bytes())
    data[len(data) // 2] ^= 0xFF
    metrics.write_bytes(bytes(data))
    result = _restore(broken, tmp_path / "t1")
    assert result.exit_code == 2
    assert f"{metrics} does not match its checksum" in result.output
    (broken / "manifest.json").unlink()
    result = _restore(broken, tmp_path / "t2")
    assert result.exit_code == 2 and "has no manifest.json" in result.output
    newer = tmp_path / "newer"
    shutil.copytree(snapshot, newer)
    manifest = json.loads((newer / "manifest.json").read_text())
    manifest["format_version"] = 99
    (newer / "manifest.json").write_text(json.dumps(manifest))
    result = _restore(newer, tmp_path / "t3")
    assert result.exit_code == 2 and "format version 99" in result.output
    assert not (tmp_path / "t1").exists() and not (tmp_path / "t3").exists()


def test_a_damaged_artifact_never_lands_and_a_rerun_continues(
    snapshot: Path, imported: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(snapshot, broken)
    victim = next(p for p in (broken / "artifacts" / "runs").rglob("readme.txt"))
    original = victim.read_bytes()
    victim.write_bytes(original.upper())
    target = tmp_path / "target"
    result = _restore(broken, target)
    assert result.exit_code == 1
    assert "readme.txt" in result.output and "does not match its checksum" in result.output
    assert not list(target.rglob("readme.txt"))
    victim.write_bytes(original)
    fixed = _restore(broken, target)
    assert fixed.exit_code == 0, fixed.output
    assert len(list(target.rglob("readme.txt"))) == 1


def test_export_refuses_a_folder_that_is_not_empty(imported: Path, tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "keep.txt").write_text("mine")
    result = mltrail("--tracking-uri", str(imported), "export", str(dest))
    assert result.exit_code == 2 and "exists and is not empty" in result.output
    assert (dest / "keep.txt").read_text() == "mine"


def test_import_mltrail_copies_another_store_directly(imported: Path, tmp_path: Path) -> None:
    target = tmp_path / "copy"
    result = mltrail("--tracking-uri", str(target), "import", "mltrail", str(imported),
                     "--include-deleted")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert _dump(target) == _dump(imported)
