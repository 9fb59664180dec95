"""After an import, the unmodified mlflow client pointed at an mltrail server reads back what
it read from MLflow: experiments, runs (info, params, tags, latest metrics, inputs,
outputs), every metric history, artifact listings and downloaded bytes, a filtered and
ordered search, logged models, the registry, and the predictions of
``mlflow.sklearn.load_model("models:/churn-model@champion")``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mltrail import TrackingClient

from .conftest import (
    MlflowData,
    MlflowServer,
    mltrail,
    probe,
    start_mltrail_server,
    stop,
)

pytestmark = pytest.mark.mlflow
DBL_MAX = 1.7976931348623157e308


def normalized(
    answer: dict[str, Any], *, keep_times: bool = True, in_step_order: bool = False
) -> dict[str, Any]:
    """What must match. The Default experiment is the target's own (its creation time is
    the target's); over HTTP the server stamps experiments with the import's time.
    ``in_step_order``: MLflow's file store answers a history in logging order, mltrail (and
    MLflow's SQL store) in step order; the points must be the same."""
    out = copy.deepcopy(answer)
    if in_step_order:
        for run in out["runs"].values():
            run["histories"] = {k: sorted(v) for k, v in run["histories"].items()}
    for name, exp in out["experiments"].items():
        if name == "Default" or not keep_times:
            exp.pop("creation_time")
    # The client gives version numbers as int from MLflow's local stores and as str over
    # REST (from MLflow's server and mltrail's alike): compared by value.
    if "champion" in out:
        out["champion"] = str(out["champion"])
    for model in out["registry"].values():
        model["aliases"] = {k: str(v) for k, v in model["aliases"].items()}
    return out


def assert_same(
    actual: dict[str, Any],
    expected: dict[str, Any],
    *,
    keep_times: bool = True,
    in_step_order: bool = False,
) -> None:
    a = normalized(actual, keep_times=keep_times, in_step_order=in_step_order)
    e = normalized(expected, keep_times=keep_times, in_step_order=in_step_order)
    assert sorted(a["runs"]) == sorted(e["runs"])
    for run_id in e["runs"]:
        assert a["runs"][run_id] == e["runs"][run_id], run_id
    assert a == e


def _probe_mltrail(python: Path, store: str, folder: Path, **server: str) -> dict[str, Any]:
    proc, srv = start_mltrail_server(folder, backend=store, **server)
    try:
        return probe(python, srv.url, folder / "actual.json")
    finally:
        stop(proc)


@pytest.fixture(scope="session")
def expected_sqlite(
    mlflow_sqlite: MlflowData, mlflow_python: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    return probe(mlflow_python, mlflow_sqlite.source, tmp_path_factory.mktemp("p") / "e.json")


def test_sqlite_store_reads_back_the_same(
    mlflow_sqlite: MlflowData, mlflow_python: Path, expected_sqlite: dict[str, Any], tmp_path: Path
) -> None:
    store = tmp_path / "store"
    result = mltrail("--tracking-uri", str(store), "import", "mlflow", mlflow_sqlite.source,
                     "--include-deleted")  # fmt: skip
    assert result.exit_code == 0, result.output
    # The sanity of the fixture itself: what the comparison is about is there.
    runs = expected_sqlite["runs"]
    weird = runs[mlflow_sqlite.runs["parent"]]["histories"]["weird"]
    assert [p[2] for p in weird] == [
        "nan",
        "1.7976931348623157e+308",
        "-1.7976931348623157e+308",
        "3.5",
    ]
    assert len(runs[mlflow_sqlite.runs["parent"]]["histories"]["long"]) == 3000
    assert expected_sqlite["registry"]["churn-model"]["versions"].keys() == {"1", "3"}
    actual = _probe_mltrail(mlflow_python, str(store), tmp_path)
    assert_same(actual, expected_sqlite)


def test_file_store_reads_back_the_same(
    mlflow_files: MlflowData, mlflow_python: Path, tmp_path: Path
) -> None:
    expected = probe(
        mlflow_python,
        mlflow_files.source,
        tmp_path / "expected.json",
        MLFLOW_ALLOW_FILE_STORE="true",
    )
    # The file store keeps infinities as they were logged.
    weird = expected["runs"][mlflow_files.runs["parent"]]["histories"]["weird"]
    assert [p[2] for p in weird] == ["nan", "inf", "-inf", "3.5"]
    store = tmp_path / "store"
    result = mltrail("--tracking-uri", str(store), "import", "mlflow", mlflow_files.source,
                     "--include-deleted")  # fmt: skip
    assert result.exit_code == 0, result.output
    actual = _probe_mltrail(mlflow_python, str(store), tmp_path)
    # mltrail's MLflow API clamps infinities as MLflow's own server does; the store keeps them.
    clamp = {"inf": repr(DBL_MAX), "-inf": repr(-DBL_MAX)}
    for run in expected["runs"].values():
        for points in run["histories"].values():
            for point in points:
                point[2] = clamp.get(point[2], point[2])
        run["metrics"] = {k: clamp.get(v, v) for k, v in run["metrics"].items()}
    assert_same(actual, expected, in_step_order=True)
    history = TrackingClient(tracking_uri=str(store)).get_metric_history(
        mlflow_files.runs["parent"], "weird"
    )
    assert [repr(m.value) for m in history] == ["nan", "inf", "-inf", "3.5"]


@pytest.fixture
def empty_mltrail_server(tmp_path: Path) -> Iterator[str]:
    folder = tmp_path / "target-server"
    folder.mkdir()
    proc, server = start_mltrail_server(folder)
    try:
        yield server.url
    finally:
        stop(proc)


def test_live_mlflow_server_into_an_mltrail_server(
    mlflow_server: MlflowServer, mlflow_python: Path, empty_mltrail_server: str, tmp_path: Path
) -> None:
    """The REST path on both sides: MLflow's REST API in, mltrail's native API out."""
    expected = probe(mlflow_python, mlflow_server.url, tmp_path / "expected.json")
    result = mltrail("--tracking-uri", empty_mltrail_server, "import", "mlflow", mlflow_server.url,
                     "--include-deleted", "--state", str(tmp_path / "state.json"))  # fmt: skip
    assert result.exit_code == 0, result.output
    actual = probe(mlflow_python, empty_mltrail_server, tmp_path / "actual.json")
    assert_same(actual, expected, keep_times=False)
    again = mltrail("--tracking-uri", empty_mltrail_server, "import", "mlflow", mlflow_server.url,
                    "--include-deleted", "--state", str(tmp_path / "state.json"))  # fmt: skip
    assert again.exit_code == 0, again.output
    assert "runs (new)" not in again.output
    assert probe(mlflow_python, empty_mltrail_server, tmp_path / "again.json") == actual


@pytest.mark.postgres
def test_mlflow_on_postgres_over_rest_and_from_its_database(
    mlflow_pg_server: MlflowServer, mlflow_python: Path, tmp_path: Path
) -> None:
    expected = probe(mlflow_python, mlflow_pg_server.url, tmp_path / "expected.json")
    over_rest = tmp_path / "over-rest"
    result = mltrail("--tracking-uri", str(over_rest), "import", "mlflow", mlflow_pg_server.url,
                     "--include-deleted")  # fmt: skip
    assert result.exit_code == 0, result.output
    direct = tmp_path / "direct"
    result = mltrail("--tracking-uri", str(direct), "import", "mlflow", mlflow_pg_server.backend,
                     "--include-deleted", "--mlflow-artifacts-root",
                     str(mlflow_pg_server.folder / "mlartifacts"))  # fmt: skip
    assert result.exit_code == 0, result.output
    for store in (over_rest, direct):
        folder = tmp_path / f"probe-{store.name}"
        folder.mkdir()
        assert_same(_probe_mltrail(mlflow_python, str(store), folder), expected)


@pytest.mark.mysql
def test_mlflow_on_mysql_from_its_database(
    mlflow_python: Path, mysql_uri: str, tmp_path: Path
) -> None:
    """MLflow's tables on MariaDB (mysql+pymysql://), read directly."""
    from .conftest import build

    source = mysql_uri
    folder = tmp_path / "mlflow"
    folder.mkdir()
    build(mlflow_python, folder, source)
    expected = probe(mlflow_python, source, tmp_path / "expected.json")
    store = tmp_path / "store"
    result = mltrail("--tracking-uri", str(store), "import", "mlflow", source, "--include-deleted")
    assert result.exit_code == 0, result.output
    probe_dir = tmp_path / "probe"
    probe_dir.mkdir()
    actual = _probe_mltrail(mlflow_python, str(store), probe_dir)
    # MLflow reads logged-model metrics from MySQL as decimals rounded to 10 places; the
    # import reads the stored doubles, and mltrail answers them exactly.
    for answer in (actual, expected):
        for model in answer["logged_models"].values():
            model["metrics"] = [[k, f"{float(v):.10f}", s] for k, v, s in model["metrics"]]
    assert_same(actual, expected)
