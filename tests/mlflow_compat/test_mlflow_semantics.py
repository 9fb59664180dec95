"""Behaviour matched to MLflow 3.17.2, through the unmodified mlflow client and raw HTTP.

Each case is one where mltrail used to answer differently from MLflow without a safety
reason: unknown runs named by a model version or a logged model, the tie order of run
search, the logged model's ``mlflow.modelVersions`` tag, the ``datasets`` filter of
logged-model search, relative artifact locations, the root of new experiments while
artifacts are served, the legacy log-model route, and the order and words of field checks.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import MlflowRunner, Server, start_server

pytestmark = pytest.mark.mlflow

API = "/api/2.0/mlflow"


def test_unknown_runs_are_kept_as_mlflow_keeps_them(run_mlflow: MlflowRunner) -> None:
    ghost = uuid.uuid4().hex
    r: dict[str, Any] = run_mlflow(
        f"""
client = MlflowClient()
exp = client.create_experiment("ghosts")
run = client.create_run(exp)
client.create_registered_model("G")
v1 = client.create_model_version("G", "runs:/{ghost}/model", run_id="{ghost}")
mismatch = error_of(lambda: client.create_model_version(
    "G", f"runs:/{{run.info.run_id}}/model", run_id="{ghost}"))
model = client.create_logged_model(exp, name="m", source_run_id="{ghost}")
emit({{
    "v1": [v1.version, v1.source, v1.run_id],
    "uri": client.get_model_version_download_uri("G", "1"),
    "mismatch": mismatch,
    "model_run": client.get_logged_model(model.model_id).source_run_id,
}})
"""
    )
    assert r["v1"] == ["1", f"runs:/{ghost}/model", ghost]
    assert r["uri"] == f"runs:/{ghost}/model"
    assert r["mismatch"]["code"] == "INVALID_PARAMETER_VALUE"
    assert "The run_id request parameter must identify the resource" in r["mismatch"]["message"]
    assert r["model_run"] == ghost


def test_search_breaks_start_time_ties_by_run_id(run_mlflow: MlflowRunner) -> None:
    r: dict[str, Any] = run_mlflow(
        """
client = MlflowClient()
exp = client.create_experiment("ties")
ids = sorted(client.create_run(exp, start_time=1).info.run_id for _ in range(10))
later = client.create_run(exp, start_time=2).info.run_id
pages, token = [], None
while True:
    page = client.search_runs([exp], max_results=4, page_token=token)
    pages.append([run.info.run_id for run in page])
    token = page.token
    if not token:
        break
by_name = client.search_runs([exp], order_by=["attributes.start_time ASC"])
emit({"ids": ids, "later": later, "pages": pages,
      "asc": [run.info.run_id for run in by_name]})
"""
    )
    ordered = [r["later"], *r["ids"]]
    assert r["pages"] == [ordered[0:4], ordered[4:8], ordered[8:]]
    assert r["asc"] == [*r["ids"], r["later"]]


def test_logged_model_registrations_and_dataset_search(run_mlflow: MlflowRunner) -> None:
    r: dict[str, Any] = run_mlflow(
        """
import json
from mlflow.entities import Metric
client = MlflowClient()
exp = client.create_experiment("datasets")
run = client.create_run(exp)
scored = client.create_logged_model(exp, name="scored")
other = client.create_logged_model(exp, name="other")
plain = client.create_logged_model(exp, name="plain")
client.log_batch(run.info.run_id, metrics=[
    Metric("acc", 0.9, 1, 0, model_id=scored.model_id, dataset_name="eval", dataset_digest="d1"),
    Metric("acc", 0.5, 1, 0, model_id=other.model_id, dataset_name="train", dataset_digest="d2"),
])
client.create_registered_model("R")
client.create_model_version("R", f"models:/{scored.model_id}", model_id=scored.model_id)
client.create_model_version("R", f"models:/{scored.model_id}", model_id=scored.model_id)
tag = client.get_logged_model(scored.model_id).tags["mlflow.modelVersions"]
def names(**kwargs):
    return sorted(m.name for m in client.search_logged_models([exp], **kwargs))
emit({
    "tag": json.loads(tag),
    "eval": names(datasets=[{"dataset_name": "eval", "dataset_digest": "d1"}]),
    "both": names(datasets=[{"dataset_name": "eval", "dataset_digest": "d1"},
                            {"dataset_name": "train", "dataset_digest": "d2"}]),
    "filtered": names(filter_string="metrics.acc > 0.1",
                      datasets=[{"dataset_name": "train", "dataset_digest": "d2"}]),
    "all": names(),
})
"""
    )
    assert r["tag"] == [{"name": "R", "version": 1}, {"name": "R", "version": 2}]
    assert r["eval"] == ["scored"]
    assert r["both"] == ["other", "scored"]
    assert r["filtered"] == ["other"]
    assert r["all"] == ["other", "plain", "scored"]


def test_relative_artifact_location_resolves_against_the_server(
    run_mlflow: MlflowRunner, server: Server
) -> None:
    # The server runs in the folder that holds its database; artifacts/ is one of its roots.
    r: dict[str, Any] = run_mlflow(
        """
client = MlflowClient()
inside = client.create_experiment("inside", artifact_location="artifacts/team")
outside = error_of(lambda: client.create_experiment("outside", artifact_location="elsewhere"))
emit({"inside": client.get_experiment(inside).artifact_location, "outside": outside})
"""
    )
    assert r["inside"] == (server.db_path.parent / "artifacts" / "team").as_posix()
    assert r["outside"]["code"] == "INVALID_PARAMETER_VALUE"
    assert "outside the server's artifact roots" in r["outside"]["message"]


def test_legacy_log_model_route_through_the_client(run_mlflow: MlflowRunner) -> None:
    r: dict[str, Any] = run_mlflow(
        """
import json
from mlflow.models import Model
client = MlflowClient()
run = client.create_run(client.create_experiment("legacy"))
store = client._tracking_client.store
for path in ("model/0", "model/1"):
    model = Model(artifact_path=path, run_id=run.info.run_id)
    model.add_flavor("python_function", loader_module="mlflow.pyfunc", config={"x": 1})
    store.record_logged_model(run.info.run_id, model)
history = json.loads(client.get_run(run.info.run_id).data.tags["mlflow.log-model.history"])
emit([(m["artifact_path"], m["flavors"]) for m in history])
"""
    )
    flavor = {"python_function": {"loader_module": "mlflow.pyfunc"}}
    assert r == [["model/0", flavor], ["model/1", flavor]]


@pytest.fixture
def team_root_server(tmp_path: Path) -> Iterator[Server]:
    yield from start_server(tmp_path, default_artifact_root=str(tmp_path / "team"))


def test_explicit_default_root_is_used_while_serving(
    mlflow_python: Path, team_root_server: Server, tmp_path: Path
) -> None:
    workdir = tmp_path / "client"
    workdir.mkdir()
    runner = MlflowRunner(python=mlflow_python, server=team_root_server, workdir=workdir)
    r: dict[str, Any] = runner(
        """
client = MlflowClient()
exp = client.create_experiment("team")
run = client.create_run(exp)
import pathlib
local = pathlib.Path("note.txt")
local.write_text("direct")
client.log_artifact(run.info.run_id, str(local))
emit({"location": client.get_experiment(exp).artifact_location,
      "run_uri": run.info.artifact_uri, "listed": [f.path for f in client.list_artifacts(run.info.run_id)]})
"""
    )
    team = tmp_path / "team"
    assert r["location"] == f"{team}/1"
    assert r["run_uri"].startswith(f"{team}/1/")
    assert r["listed"] == ["note.txt"]
    run_folder = r["run_uri"]
    assert Path(run_folder, "note.txt").read_text() == "direct"
    # The proxy still serves mlflow-artifacts:/ paths under its destination.
    assert not (team_root_server.artifacts_dir / "1").exists()


def test_field_checks_follow_mlflow_order_and_words(server: Server) -> None:
    hint = "See the API docs for more information about request parameters."
    with httpx.Client(base_url=f"{server.url}{API}", timeout=60) as api:
        run_id = api.post("/runs/create", json={"experiment_id": "0"}).json()["run"]["info"][
            "run_id"
        ]

        def message(route: str, body: dict[str, Any]) -> str:
            answer = api.post(route, json=body)
            assert answer.status_code == 400, answer.text
            assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"
            assert answer.json()["error_class"] == "INVALID_PARAMETER_VALUE"
            return str(answer.json()["message"])

        for route in ("/runs/log-parameter", "/runs/set-tag", "/runs/log-metric"):
            # Every field is wrong: MLflow names run_id, the first of its schema.
            assert message(route, {"run_id": 31, "key": 32, "value": 41, "timestamp": "x"}) == (
                f"Invalid value 31 for parameter 'run_id' supplied:  Hint: Value was of type 'int'. {hint}"
            )
        assert message(
            "/runs/log-metric",
            {"run_id": run_id, "key": "k", "value": 1, "timestamp": 1, "step": "foo"},
        ) == (
            f"Invalid value \"foo\" for parameter 'step' supplied:  Hint: Value was of type 'str'. {hint}"
        )
        assert message("/runs/set-tag", {"run_id": run_id, "key": "k", "value": 41}).startswith(
            "Invalid value 41 for parameter 'value' supplied:"
        )
        assert message(
            "/runs/log-batch", {"run_id": run_id, "metrics": [{"key": "mae", "value": 2.5}]}
        ) == (f"Missing value for required parameter 'metrics[0].timestamp'. {hint}")
        assert message("/experiments/create", {"name": "x", "artifact_location": 9.0}).startswith(
            "Invalid value 9.0 for parameter 'artifact_location' supplied:"
        )
        assert message(
            "/runs/search", {"experiment_ids": ["0"], "max_results": 123456789}
        ).startswith("Invalid value 123456789 for parameter 'max_results' supplied:")
        for path in ("../path", "/etc/passwd", "a/%2e%2e/b"):
            answer = api.get("/artifacts/list", params={"run_id": run_id, "path": path})
            assert (answer.status_code, answer.json()["message"]) == (400, "Invalid path")
        answer = api.get(
            "/metrics/get-history", params={"run_id": run_id, "metric_key": "m", "max_results": 0}
        )
        assert answer.json()["message"] == (
            "Invalid value 0 for parameter 'max_results' supplied. It must be a positive integer."
        )
