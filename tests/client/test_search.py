"""Fluent search_runs (DataFrame and list) and search_experiments."""

from __future__ import annotations

from pathlib import Path

import pytest

import mltrail
from mltrail.entities import ViewType
from mltrail.errors import InvalidParameterValue


def _three_runs() -> list[str]:
    ids = []
    for i, lr in enumerate([0.1, 0.01, 0.001]):
        with mltrail.start_run(run_name=f"r{i}") as run:
            mltrail.log_param("lr", lr)
            mltrail.log_metric("acc", 0.5 + i / 10)
            if i == 2:
                mltrail.set_tag("best", "yes")
        ids.append(run.info.run_id)
    return ids


def test_search_runs_dataframe(store_dir: Path) -> None:
    import pandas as pd

    mltrail.set_experiment("search")
    ids = _three_runs()
    df = mltrail.search_runs(order_by=["metrics.acc DESC"])
    assert list(df.columns[:6]) == [
        "run_id",
        "experiment_id",
        "status",
        "artifact_uri",
        "start_time",
        "end_time",
    ]
    assert {"metrics.acc", "params.lr", "tags.best", "tags.mlflow.runName"} <= set(df.columns)
    assert list(df["run_id"]) == ids[::-1]
    assert list(df["params.lr"]) == ["0.001", "0.01", "0.1"]
    assert list(df["metrics.acc"]) == pytest.approx([0.7, 0.6, 0.5])
    assert df["tags.best"].iloc[0] == "yes"
    assert df["tags.best"].iloc[1:].isna().all()
    assert str(df["start_time"].dt.tz) == "UTC"
    assert isinstance(df["end_time"].iloc[0], pd.Timestamp)
    assert (df["status"] == "FINISHED").all()


def test_search_runs_filter_and_list(store_dir: Path) -> None:
    mltrail.set_experiment("search")
    ids = _three_runs()
    runs = mltrail.search_runs(filter_string="params.lr = '0.01'", output_format="list")
    assert [r.info.run_id for r in runs] == [ids[1]]
    top = mltrail.search_runs(order_by=["metrics.acc ASC"], max_results=2, output_format="list")
    assert [r.info.run_id for r in top] == ids[:2]


def test_search_runs_paginates(store_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mltrail.client.fluent import search

    monkeypatch.setattr(search, "_RUNS_PAGE_SIZE", 2)
    ids = _three_runs()
    runs = mltrail.search_runs(output_format="list", order_by=["attributes.start_time ASC"])
    assert sorted(r.info.run_id for r in runs) == sorted(ids)


def test_search_runs_empty_dataframe(store_dir: Path) -> None:
    df = mltrail.search_runs()
    assert len(df) == 0
    assert "run_id" in df.columns


def test_search_runs_by_names_and_all_experiments(store_dir: Path) -> None:
    mltrail.set_experiment("a")
    with mltrail.start_run() as in_a:
        pass
    mltrail.set_experiment("b")
    with mltrail.start_run() as in_b:
        pass
    by_name = mltrail.search_runs(experiment_names=["a", "missing"], output_format="list")
    assert [r.info.run_id for r in by_name] == [in_a.info.run_id]
    everywhere = mltrail.search_runs(search_all_experiments=True, output_format="list")
    assert {r.info.run_id for r in everywhere} == {in_a.info.run_id, in_b.info.run_id}
    with pytest.raises(InvalidParameterValue, match="not both"):
        mltrail.search_runs(experiment_ids=["1"], experiment_names=["a"])
    with pytest.raises(InvalidParameterValue, match="Unsupported output format"):
        mltrail.search_runs(output_format="csv")  # type: ignore[call-overload]


def test_search_runs_deleted(store_dir: Path) -> None:
    with mltrail.start_run() as run:
        pass
    mltrail.delete_run(run.info.run_id)
    assert mltrail.search_runs(output_format="list") == []
    deleted = mltrail.search_runs(run_view_type=ViewType.DELETED_ONLY, output_format="list")
    assert [r.info.run_id for r in deleted] == [run.info.run_id]


def test_search_experiments(store_dir: Path) -> None:
    mltrail.create_experiment("x1")
    mltrail.create_experiment("x2", tags={"k": "v"})
    names = {e.name for e in mltrail.search_experiments()}
    assert {"Default", "x1", "x2"} <= names
    tagged = mltrail.search_experiments(filter_string="tags.k = 'v'")
    assert [e.name for e in tagged] == ["x2"]
    assert len(mltrail.search_experiments(max_results=1)) == 1
