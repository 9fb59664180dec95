"""The quickstart's ``log_model`` and model loading, with the real mlflow client."""

from __future__ import annotations

from typing import Any

from mlflow_compat.conftest import MlflowRunner

TRAIN = """
import numpy as np
from sklearn.linear_model import LogisticRegression

X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [0.5, 3.0], [3.0, 0.2], [0.1, 0.1]])
y = np.array([0, 1, 1, 0, 1, 0])
model = LogisticRegression(C=1.0, solver="lbfgs").fit(X, y)
expected = model.predict_proba(X).tolist()
"""


def test_quickstart_log_model_and_load_back(run_mlflow: MlflowRunner) -> None:
    result: dict[str, Any] = run_mlflow(
        TRAIN
        + """
import mlflow.sklearn

mlflow.set_experiment("churn")
with mlflow.start_run(run_name="r1") as run:
    mlflow.log_params({"C": 1.0, "solver": "lbfgs"})
    mlflow.log_metric("acc", 0.9)
    mlflow.log_metric("acc", 0.95, step=1)
    info = mlflow.sklearn.log_model(model, name="model")
run_id = run.info.run_id

def proba(uri):
    return mlflow.sklearn.load_model(uri).predict_proba(X).tolist()

client = MlflowClient()
logged = client.get_logged_model(info.model_id)
by_run = proba(f"runs:/{run_id}/model")
by_id = proba(f"models:/{info.model_id}")
pyfunc = mlflow.pyfunc.load_model(f"models:/{info.model_id}").predict(X).tolist()

mv = mlflow.register_model(f"models:/{info.model_id}", "ChurnModel")
by_version = proba("models:/ChurnModel/1")
client.set_registered_model_alias("ChurnModel", "champion", "1")
by_alias = proba("models:/ChurnModel@champion")
logged_after = client.get_logged_model(info.model_id)
found = mlflow.search_logged_models(
    experiment_ids=[run.info.experiment_id], filter_string="name = 'model'", output_format="list"
)
emit({
    "expected": expected,
    "predict": model.predict(X).tolist(),
    "by_run": by_run, "by_id": by_id, "by_version": by_version, "by_alias": by_alias,
    "pyfunc": pyfunc,
    "model_id": info.model_id,
    "status": str(logged.status),
    "artifact_location": logged.artifact_location,
    "source_run_id": logged.source_run_id,
    "params": logged.params,
    "experiment_id": run.info.experiment_id,
    "mv": {"name": mv.name, "version": mv.version, "run_id": mv.run_id, "source": mv.source},
    "model_versions_tag": logged_after.tags.get("mlflow.modelVersions"),
    "found": [m.model_id for m in found],
    "metrics": [[m.key, m.value, m.step] for m in (logged.metrics or [])],
    "run_id": run_id,
})
"""
    )
    expected = result["expected"]
    for way in ("by_run", "by_id", "by_version", "by_alias"):
        assert result[way] == expected, way
    assert result["pyfunc"] == result["predict"]
    model_id = result["model_id"]
    assert model_id.startswith("m-") and len(model_id) == 34
    assert result["status"] == "READY"
    assert result["artifact_location"] == (
        f"mlflow-artifacts:/{result['experiment_id']}/models/{model_id}/artifacts"
    )
    assert result["source_run_id"] == result["run_id"]
    assert result["params"] == {"C": "1.0", "solver": "lbfgs"}
    assert result["mv"] == {
        "name": "ChurnModel",
        "version": "1",
        "run_id": result["run_id"],
        "source": f"models:/{model_id}",
    }
    assert '"name": "ChurnModel"' in result["model_versions_tag"]
    assert result["found"] == [model_id]
    # log_model (step 0 by default) links the run's values at that step, as upstream does
    assert result["metrics"] == [["acc", 0.9, 0]]


def test_logged_model_client_api(run_mlflow: MlflowRunner) -> None:
    result: dict[str, Any] = run_mlflow(
        """
from mlflow.entities import LoggedModelStatus

client = MlflowClient()
exp = client.create_experiment("lm")
run = client.create_run(exp)
m = client.create_logged_model(exp, name="net", source_run_id=run.info.run_id,
                               params={f"p{i}": str(i) for i in range(130)},
                               tags={"a": "1"}, model_type="nn")
pending = str(m.status)
client.set_logged_model_tags(m.model_id, {"b": "2", "a": "3"})
client.delete_logged_model_tag(m.model_id, "b")
done = client.finalize_logged_model(m.model_id, LoggedModelStatus.READY)
other = client.create_logged_model(exp, name="other")
got = client.get_logged_model(m.model_id)
search = client.search_logged_models([exp], filter_string="tags.a = '3' AND params.p129 = '129'")
paged = client.search_logged_models([exp], max_results=1)
second = client.search_logged_models([exp], max_results=1, page_token=paged.token)
ordered = client.search_logged_models([exp], order_by=[{"field_name": "name", "ascending": True}])
bad_filter = error_of(lambda: client.search_logged_models([exp], filter_string="name = net"))
missing = error_of(lambda: client.get_logged_model("m-" + "0" * 32))
bad_exp = error_of(lambda: client.create_logged_model("98765"))
client.delete_logged_model(other.model_id)
after_delete = error_of(lambda: client.get_logged_model(other.model_id))
emit({
    "pending": pending, "done": str(done.status), "tags": got.tags, "n_params": len(got.params),
    "model_type": got.model_type, "name": got.name,
    "search": [x.model_id for x in search], "id": m.model_id, "other": other.model_id,
    "pages": [[x.model_id for x in paged], [x.model_id for x in second], second.token],
    "ordered": [x.name for x in ordered],
    "bad_filter": bad_filter, "missing": missing, "bad_exp": bad_exp,
    "after_delete": after_delete,
})
"""
    )
    assert result["pending"] == "PENDING" and result["done"] == "READY"
    assert result["tags"] == {"a": "3"} and result["n_params"] == 130
    assert result["model_type"] == "nn" and result["name"] == "net"
    assert result["search"] == [result["id"]]
    first, second, token = result["pages"]
    assert sorted(first + second) == sorted([result["id"], result["other"]]) and token is None
    assert result["ordered"] == ["net", "other"]
    assert result["bad_filter"]["code"] == "INVALID_PARAMETER_VALUE"
    assert result["missing"]["code"] == "RESOURCE_DOES_NOT_EXIST"
    assert result["bad_exp"]["code"] == "RESOURCE_DOES_NOT_EXIST"
    assert result["after_delete"]["code"] == "RESOURCE_DOES_NOT_EXIST"


def test_register_from_runs_uri_and_log_model_registration(run_mlflow: MlflowRunner) -> None:
    result: dict[str, Any] = run_mlflow(
        TRAIN
        + """
import mlflow.sklearn

mlflow.set_experiment("reg-runs")
with mlflow.start_run() as run:
    info = mlflow.sklearn.log_model(model, name="clf", registered_model_name="Clf")
mv2 = mlflow.register_model(f"runs:/{run.info.run_id}/clf", "Clf")
client = MlflowClient()
v1 = client.get_model_version("Clf", "1")
emit({
    "expected": expected,
    "v1": mlflow.sklearn.load_model("models:/Clf/1").predict_proba(X).tolist(),
    "v2": mlflow.sklearn.load_model("models:/Clf/2").predict_proba(X).tolist(),
    "uris": [client.get_model_version_download_uri("Clf", v) for v in ("1", "2")],
    "model_id": info.model_id,
    "artifact_location": client.get_logged_model(info.model_id).artifact_location,
    "run_ids": [v1.run_id, mv2.run_id],
    "run_id": run.info.run_id,
})
"""
    )
    assert result["v1"] == result["expected"] and result["v2"] == result["expected"]
    assert result["uris"] == [result["artifact_location"]] * 2
    assert result["run_ids"] == [result["run_id"]] * 2
