"""Logged models and the registry through mltrail's own client: the in-process backend over a
folder store and the REST backend against a live server, with the same assertions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import mltrail
import mltrail.pyfunc
import mltrail.sklearn
from harness.servers import free_port as _free_port
from mltrail.errors import (
    InvalidParameterValue,
    MltrailError,
    ResourceAlreadyExists,
    ResourceDoesNotExist,
)
from mltrail.model_entities import LoggedModelStatus


@pytest.fixture(params=["local", "server"])
def tracking(request: pytest.FixtureRequest, store_dir: Path) -> str:
    """The fluent API's tracking URI: the folder store, or a server (no auth, in-process)."""
    if request.param == "local":
        return str(store_dir)
    url: str = request.getfixturevalue("app_url")
    mltrail.set_tracking_uri(url)
    return url


@pytest.fixture
def data() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    return pd.DataFrame({"x1": rng.normal(size=60), "x2": rng.normal(size=60)})


def _fit(X: pd.DataFrame, column: str) -> LogisticRegression:
    return LogisticRegression().fit(X, (X[column] > 0).astype(int))


def test_log_register_and_load_by_every_uri(tracking: str, data: pd.DataFrame) -> None:
    first, second = _fit(data, "x1"), _fit(data, "x2")
    assert not np.array_equal(first.predict(data), second.predict(data))
    mltrail.set_experiment("churn")
    with mltrail.start_run() as run:
        mltrail.log_param("C", 1.0)
        info = mltrail.sklearn.log_model(
            first, "model", input_example=data.head(2), registered_model_name="Churn"
        )
    with mltrail.start_run() as run2:
        info2 = mltrail.sklearn.log_model(second, "model", registered_model_name="Churn")
    run_id = run.info.run_id
    assert info.model_id and info.model_id.startswith("m-") and len(info.model_id) == 34
    assert info.model_uri == f"models:/{info.model_id}"
    assert (info.registered_model_version, info2.registered_model_version) == (1, 2)

    client = mltrail.TrackingClient()
    logged = client.get_logged_model(info.model_id)
    assert logged.status is LoggedModelStatus.READY
    assert (logged.name, logged.source_run_id) == ("model", run_id)
    assert logged.experiment_id == run.info.experiment_id
    assert logged.params["C"] == "1.0"
    assert '"name": "Churn"' in logged.tags["mlflow.modelVersions"]
    found = client.search_logged_models(
        [run.info.experiment_id], filter_string=f"source_run_id = '{run_id}'"
    )
    assert [m.model_id for m in found] == [info.model_id]
    both = client.search_logged_models(
        run.info.experiment_id, order_by=[{"field_name": "creation_timestamp", "ascending": True}]
    )
    assert [m.model_id for m in both] == [info.model_id, info2.model_id]

    version = client.get_model_version("Churn", 1)
    assert (version.model_id, version.run_id, version.source) == (
        info.model_id,
        run_id,
        info.model_uri,
    )
    assert client.get_model_version_download_uri("Churn", 1) == logged.artifact_location
    client.set_registered_model_alias("Churn", "champion", 1)
    client.transition_model_version_stage("Churn", 1, "staging")

    expect_first, expect_second = first.predict(data), second.predict(data)
    for uri, expected in [
        (info.model_uri, expect_first),
        (f"runs:/{run_id}/model", expect_first),
        (f"runs:/{run2.info.run_id}/model", expect_second),
        ("models:/Churn/1", expect_first),
        ("models:/Churn/2", expect_second),
        ("models:/Churn/latest", expect_second),
        ("models:/Churn@champion", expect_first),
        ("models:/Churn/Staging", expect_first),
    ]:
        np.testing.assert_array_equal(mltrail.pyfunc.load_model(uri).predict(data), expected)
        estimator = mltrail.sklearn.load_model(uri)
        np.testing.assert_array_equal(estimator.predict(data), expected)

    # A run's model registered by its runs:/ URI is linked to the logged model.
    other = mltrail.register_model(f"runs:/{run_id}/model", "Other")
    assert (other.name, other.version, other.model_id) == ("Other", 1, info.model_id)
    np.testing.assert_array_equal(
        mltrail.pyfunc.load_model("models:/Other/1").predict(data), expect_first
    )

    for missing in ("models:/Churn/9", "models:/Nope/1", "models:/Churn@nobody", "models:/m-0"):
        with pytest.raises(ResourceDoesNotExist):
            mltrail.pyfunc.load_model(missing)
    with pytest.raises(ResourceDoesNotExist):
        mltrail.pyfunc.load_model(f"runs:/{run_id}/not-a-model")
    with pytest.raises(ResourceDoesNotExist, match="no version"):
        mltrail.pyfunc.load_model("models:/Churn/Production")


def test_registry_methods(tracking: str) -> None:
    client = mltrail.TrackingClient()
    created = client.create_registered_model("Fraud", tags={"team": "risk"}, description="v0")
    assert (created.name, created.description, dict(created.tags)) == (
        "Fraud",
        "v0",
        {"team": "risk"},
    )
    with pytest.raises(ResourceAlreadyExists):
        client.create_registered_model("Fraud")
    client.set_registered_model_tag("Fraud", "tier", 1)
    client.delete_registered_model_tag("Fraud", "team")
    client.update_registered_model("Fraud", description="better")
    got = client.get_registered_model("Fraud")
    assert (got.description, dict(got.tags)) == ("better", {"tier": "1"})

    experiment_id = client.create_experiment("fraud")
    run = client.create_run(experiment_id)
    v1 = client.create_model_version("Fraud", f"runs:/{run.info.run_id}/model", tags={"a": "b"})
    v2 = client.create_model_version(
        "Fraud", "mlflow-artifacts:/models/fraud", description="outside"
    )
    assert (v1.version, v1.run_id, dict(v1.tags)) == (1, run.info.run_id, {"a": "b"})
    assert client.get_model_version_download_uri("Fraud", 1) == (
        f"{run.info.artifact_uri.rstrip('/')}/model"
    )
    assert client.get_model_version_download_uri("Fraud", "2") == "mlflow-artifacts:/models/fraud"
    assert (v2.version, v2.description) == (2, "outside")

    client.update_model_version("Fraud", 1, description="first")
    client.set_model_version_tag("Fraud", 1, "validated", True)
    client.transition_model_version_stage("Fraud", 1, "Production")
    client.set_model_version_tag("Fraud", key="stage-tag", value="x", stage="production")
    client.delete_model_version_tag("Fraud", 1, "a")
    mv = client.get_model_version("Fraud", 1)
    assert (mv.description, mv.current_stage) == ("first", "Production")
    assert dict(mv.tags) == {"validated": "True", "stage-tag": "x"}
    assert [v.version for v in client.get_latest_versions("Fraud", stages=["Production"])] == [1]

    client.set_registered_model_alias("Fraud", "champion", 2)
    assert client.get_model_version_by_alias("Fraud", "champion").version == 2
    assert client.get_registered_model("Fraud").aliases == {"champion": 2}
    with pytest.raises(InvalidParameterValue, match="reserved"):
        client.set_registered_model_alias("Fraud", "latest", 1)
    client.delete_registered_model_alias("Fraud", "champion")
    with pytest.raises(ResourceDoesNotExist):
        client.get_model_version_by_alias("Fraud", "champion")

    client.create_registered_model("Spam")
    names = [m.name for m in client.search_registered_models(filter_string="name LIKE 'F%'")]
    assert names == ["Fraud"]
    page = client.search_registered_models(max_results=1)
    assert len(page) == 1 and page.token
    assert [m.name for m in client.search_registered_models(page_token=page.token)] == ["Spam"]
    versions = client.search_model_versions("name = 'Fraud'", order_by=["version_number ASC"])
    assert [v.version for v in versions] == [1, 2]

    renamed = client.rename_registered_model("Fraud", "FraudDetector")
    assert renamed.name == "FraudDetector"
    assert client.get_model_version("FraudDetector", 2).description == "outside"
    client.delete_model_version("FraudDetector", 2)
    with pytest.raises(ResourceDoesNotExist):
        client.get_model_version("FraudDetector", 2)
    client.delete_registered_model("FraudDetector")
    with pytest.raises(ResourceDoesNotExist):
        client.get_registered_model("FraudDetector")

    for bad in ("a/b", "", ".."):
        with pytest.raises(InvalidParameterValue):
            client.get_registered_model(bad)
    with pytest.raises(InvalidParameterValue, match="integer"):
        client.get_model_version("Spam", "one")


def test_logged_model_lifecycle(tracking: str) -> None:
    client = mltrail.TrackingClient()
    experiment_id = client.create_experiment("lifecycle")
    run = client.create_run(experiment_id)
    model = client.create_logged_model(
        experiment_id, name="m", source_run_id=run.info.run_id, params={"lr": 0.1}, tags={"k": 1}
    )
    assert model.status is LoggedModelStatus.PENDING
    assert (dict(model.params), dict(model.tags)) == ({"lr": "0.1"}, {"k": "1"})
    client.set_logged_model_tags(model.model_id, {"k": "2", "other": "x"})
    client.delete_logged_model_tag(model.model_id, "other")
    ready = client.finalize_logged_model(model.model_id, "READY")
    assert ready.status is LoggedModelStatus.READY and dict(ready.tags) == {"k": "2"}
    with pytest.raises(InvalidParameterValue):
        client.finalize_logged_model(model.model_id, "DONE")
    client.delete_logged_model(model.model_id)
    with pytest.raises(ResourceDoesNotExist):
        client.get_logged_model(model.model_id)
    assert client.get_logged_model(model.model_id, allow_deleted=True).model_id == model.model_id
    assert list(client.search_logged_models([experiment_id])) == []
    with pytest.raises(ResourceDoesNotExist):
        client.get_logged_model("m-00000000000000000000000000000000")


def test_failed_upload_marks_the_model(store_dir: Path, data: pd.DataFrame) -> None:
    blocker = store_dir.parent / "not-a-folder"
    blocker.write_text("a file where the experiment's artifacts should go")
    experiment_id = mltrail.create_experiment("blocked", artifact_location=str(blocker))
    mltrail.set_experiment(experiment_id=experiment_id)
    with mltrail.start_run(), pytest.raises(MltrailError, match="Invalid path"):
        mltrail.sklearn.log_model(_fit(data, "x1"), "model")
    [model] = mltrail.TrackingClient().search_logged_models([experiment_id])
    assert model.status is LoggedModelStatus.UPLOAD_FAILED


# -- the real mlflow client on the same server -------------------------------------------------
def _mlflow_python() -> str:
    configured = os.environ.get("MLTRAIL_TEST_MLFLOW_PYTHON")
    path = Path(
        configured or Path(__file__).resolve().parents[2] / ".venv-mlflow" / "bin" / "python"
    )
    if not path.exists():
        pytest.fail(f"{path} is missing: set MLTRAIL_TEST_MLFLOW_PYTHON to a python with mlflow")
    return str(path)


def _run_python(python: str, code: str, *, env: dict[str, str] | None = None) -> Any:
    """Run ``code`` in a fresh interpreter; its last stdout line is JSON, returned decoded."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("MLTRAIL_", "MLFLOW_"))}
    full_env.update(env or {})
    done = subprocess.run(
        [python, "-c", textwrap.dedent(code)],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.mlflow
def test_mlflow_client_sees_our_models_and_we_load_theirs(
    server_url: str, store_dir: Path, data: pd.DataFrame
) -> None:
    mltrail.set_tracking_uri(server_url)
    mltrail.set_experiment("interop")
    with mltrail.start_run() as run:
        info = mltrail.sklearn.log_model(_fit(data, "x1"), "ours", registered_model_name="Ours")
    theirs = _run_python(
        _mlflow_python(),
        """
        import json, sys, warnings
        warnings.filterwarnings("ignore")
        import mlflow, numpy as np, pandas as pd
        from mlflow import MlflowClient
        from sklearn.linear_model import LogisticRegression
        url, experiment_id, data = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
        client = MlflowClient(url)
        found = [
            {"id": m.model_id, "status": str(m.status), "run": m.source_run_id, "name": m.name}
            for m in client.search_logged_models([experiment_id])
        ]
        version = client.get_model_version("Ours", "1")
        mlflow.set_tracking_uri(url)
        mlflow.set_experiment("from-mlflow")
        X = pd.DataFrame(data)
        model = LogisticRegression().fit(X, (X["x2"] > 0).astype(int))
        with mlflow.start_run():
            logged = mlflow.sklearn.log_model(model, name="model", registered_model_name="Theirs")
        print(json.dumps({
            "found": found, "version_source": version.source, "version_run": version.run_id,
            "their_model_id": logged.model_id, "predictions": model.predict(X).tolist(),
        }))
        """.replace(
            "sys.argv[1], sys.argv[2], json.loads(sys.argv[3])",
            f"{server_url!r}, {run.info.experiment_id!r}, {data.to_dict(orient='list')!r}",
        ),
    )
    assert theirs["found"] == [
        {"id": info.model_id, "status": "READY", "run": run.info.run_id, "name": "ours"}
    ]
    # mlflow's ModelVersion does not read model_id from the answer; the source names it.
    assert (theirs["version_source"], theirs["version_run"]) == (info.model_uri, run.info.run_id)

    loaded = mltrail.pyfunc.load_model("models:/Theirs/1")
    assert loaded.metadata.flavors["python_function"]["loader_module"] == "mlflow.sklearn"
    assert loaded.metadata.flavors["sklearn"]["serialization_format"] == "skops"
    np.testing.assert_array_equal(loaded.predict(data), theirs["predictions"])
    by_id = mltrail.sklearn.load_model(f"models:/{theirs['their_model_id']}")
    np.testing.assert_array_equal(by_id.predict(data), theirs["predictions"])


# -- a server with authentication on -----------------------------------------------------------
PASSWORDS = {"admin": "admin-password-123", "alice": "alice-password-123", "bob": "bob-pw-12345"}
PASSWORDS["carol"] = "carol-pw-12345"

CLIENT_PRELUDE = """
import json, warnings
warnings.filterwarnings("ignore")
import numpy as np, pandas as pd
import mltrail, mltrail.pyfunc, mltrail.sklearn
from mltrail.errors import MltrailError
X = pd.DataFrame({"x1": [-1.0, 0.5, 2.0, -0.3], "x2": [0.1, -2.0, 1.0, 0.4]})

def attempt(call):
    try:
        value = call()
    except MltrailError as exc:
        return exc.code
    return "ok" if value is None else value
"""


@pytest.fixture
def auth_url(tmp_path: Path) -> Iterator[str]:
    from mltrail.service.auth import AuthService
    from mltrail.store.sql import open_store
    from mltrail.store.sql.auth import SqlAuthStore

    db_uri = f"sqlite:///{tmp_path / 'auth.db'}"
    store = open_store(db_uri, default_artifact_root="mlflow-artifacts:/")
    auth = AuthService(store=SqlAuthStore(store.engine))
    for user, password in PASSWORDS.items():
        auth.create_user(user, password, is_admin=user == "admin")
    store.close()
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLTRAIL_")}
    command = [
        sys.executable, "-m", "mltrail", "server", "--port", str(port),
        "--backend-store-uri", db_uri, "--artifacts-destination", str(tmp_path / "artifacts"),
    ]  # fmt: skip
    log_path = tmp_path / "auth-server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"server exited: {log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/health", timeout=2).text == "OK":
                    break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    pytest.fail("server did not come up")
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _as_user(url: str, user: str, code: str) -> Any:
    env = {
        "MLTRAIL_TRACKING_URI": url,
        "MLTRAIL_TRACKING_USERNAME": user,
        "MLTRAIL_TRACKING_PASSWORD": PASSWORDS[user],
        "MLTRAIL_HTTP_MAX_RETRIES": "0",
    }
    return _run_python(sys.executable, CLIENT_PRELUDE + textwrap.dedent(code), env=env)


def _grant(url: str, kind: str, resource: str, user: str, level: str) -> None:
    answer = httpx.put(
        f"{url}/api/v1/permissions/{kind}/{resource}",
        json={"username": user, "permission": level},
        auth=("admin", PASSWORDS["admin"]),
        timeout=30,
    )
    assert answer.status_code == 200, answer.text


def test_registry_with_auth_on(auth_url: str) -> None:
    alice = _as_user(
        auth_url,
        "alice",
        """
        from sklearn.linear_model import LogisticRegression
        mltrail.set_experiment("alice-exp")
        with mltrail.start_run() as run:
            model = LogisticRegression().fit(X, (X["x1"] > 0).astype(int))
            info = mltrail.sklearn.log_model(model, "model", registered_model_name="AliceModel")
        loaded = mltrail.pyfunc.load_model("models:/AliceModel/1")
        print(json.dumps({
            "model_id": info.model_id, "experiment_id": run.info.experiment_id,
            "version": info.registered_model_version,
            "status": mltrail.TrackingClient().get_logged_model(info.model_id).status.value,
            "predictions": loaded.predict(X).tolist(),
        }))
        """,
    )
    assert alice["version"] == 1 and alice["status"] == "LOGGED_MODEL_READY"
    model_id = alice["model_id"]

    # Without any grant, every model call answers as if nothing existed.
    outsider = f"""
    client = mltrail.TrackingClient()
    print(json.dumps({{
        "get": attempt(lambda: client.get_registered_model("AliceModel").name),
        "version": attempt(lambda: client.get_model_version("AliceModel", 1).name),
        "alias": attempt(lambda: client.set_registered_model_alias("AliceModel", "b", 1)),
        "logged": attempt(lambda: client.get_logged_model("{model_id}").name),
        "load": attempt(lambda: mltrail.pyfunc.load_model("models:/AliceModel/1") and None),
        "load_id": attempt(lambda: mltrail.pyfunc.load_model("models:/{model_id}") and None),
        "register": attempt(lambda: client.create_model_version("AliceModel", "models:/{model_id}")),
        "search": [m.name for m in client.search_registered_models()],
        "versions": [v.name for v in client.search_model_versions()],
    }}))
    """
    not_found = "RESOURCE_DOES_NOT_EXIST"
    assert _as_user(auth_url, "carol", outsider) == {
        "get": not_found,
        "version": not_found,
        "alias": not_found,
        "logged": not_found,
        "load": not_found,
        "load_id": not_found,
        "register": not_found,
        "search": [],
        "versions": [],
    }

    # READ on both: bob can load the model but not register a version.
    _grant(auth_url, "experiments", alice["experiment_id"], "bob", "READ")
    _grant(auth_url, "registered-models", "AliceModel", "bob", "READ")
    register = f"""
    loaded = mltrail.pyfunc.load_model("models:/AliceModel/1")
    print(json.dumps({{
        "predictions": loaded.predict(X).tolist(),
        "register": attempt(lambda: mltrail.register_model("models:/{model_id}", "AliceModel").version),
    }}))
    """
    reader = _as_user(auth_url, "bob", register)
    assert reader == {"predictions": alice["predictions"], "register": "PERMISSION_DENIED"}

    # EDIT on the registered model: bob registers version 2, which loads like version 1.
    _grant(auth_url, "registered-models", "AliceModel", "bob", "EDIT")
    editor = _as_user(auth_url, "bob", register.replace("AliceModel/1", "AliceModel/latest"))
    assert editor == {"predictions": alice["predictions"], "register": 2}
