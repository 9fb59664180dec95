"""Models for the model pages: a scikit-learn model logged with ``mltrail.sklearn.log_model``,
then registered models, versions, stages, aliases and a logged-model record created by the
real mlflow client (``$MLTRAIL_TEST_MLFLOW_PYTHON``, else ``.venv-mlflow/bin/python``).

Names, tags and descriptions carry XSS payloads. Model names may not contain ``/`` or ``:``,
so theirs is a payload without them.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from dataclasses import dataclass
from pathlib import Path

import mltrail
from mltrail.client.tracking_client import TrackingClient

from .seed import XSS, XSS_IMG

XSS_NAME = "xss " + XSS_IMG + '"><svg onload=alert(2)>'
MODEL_NAME = "churn-classifier"
EMPTY_MODEL = "empty-model"


@dataclass
class SeededModels:
    experiment_id: str
    run_id: str
    empty_run_id: str
    logged_model_id: str
    model_name: str = MODEL_NAME
    xss_name: str = XSS_NAME
    empty_model: str = EMPTY_MODEL


def mlflow_python() -> Path:
    configured = os.environ.get("MLTRAIL_TEST_MLFLOW_PYTHON")
    path = (
        Path(configured)
        if configured
        else Path(__file__).resolve().parents[2] / ".venv-mlflow/bin/python"
    )
    if not path.exists():
        raise RuntimeError(
            f"{path} is missing: create .venv-mlflow with mlflow==3.17.2 "
            "(or set MLTRAIL_TEST_MLFLOW_PYTHON)"
        )
    return path


MLFLOW_SCRIPT = textwrap.dedent(
    """
    import json, sys, warnings
    warnings.filterwarnings("ignore")
    from mlflow import MlflowClient
    args = json.loads(sys.argv[1])
    client = MlflowClient(args["url"])
    run_id, name, xss, xss_name = args["run_id"], args["name"], args["xss"], args["xss_name"]
    client.create_registered_model(
        name,
        tags={"team": "tabular", "xss": xss},
        description="# Churn\\nPredicts **churn**. " + xss,
    )
    source = f"runs:/{run_id}/model"
    v1 = client.create_model_version(name, source, run_id=run_id, tags={"validated": "yes"})
    v2 = client.create_model_version(
        name, source, run_id=run_id, description="Retrained " + xss, tags={"xss": xss}
    )
    client.transition_model_version_stage(name, v1.version, "Production")
    client.transition_model_version_stage(name, v2.version, "Staging")
    client.set_registered_model_alias(name, "champion", v2.version)
    client.create_registered_model(xss_name, tags={"xss": xss}, description=xss)
    client.create_model_version(xss_name, source, run_id=run_id, tags={"xss": xss})
    client.create_registered_model(args["empty"])
    logged = client.create_logged_model(
        args["experiment_id"], name="xss-" + "lm", source_run_id=run_id,
        tags={"xss": xss}, model_type="classifier",
    )
    print(json.dumps({"logged_model_id": logged.model_id}))
    """
)


def seed_models(url: str) -> SeededModels:
    from sklearn.linear_model import LogisticRegression

    client = TrackingClient(url)
    experiment_id = client.create_experiment("models-demo")
    mltrail.set_tracking_uri(url)
    mltrail.set_experiment(experiment_id=experiment_id)
    features = [[0.1, 1.0], [0.4, 0.2], [0.9, 0.8], [0.3, 0.1], [0.8, 0.9], [0.2, 0.7]]
    labels = [0, 0, 1, 0, 1, 1]
    with mltrail.start_run(run_name="train-logreg") as run:
        mltrail.log_params({"C": 1.0, "solver": "lbfgs"})
        model = LogisticRegression().fit(features, labels)
        mltrail.sklearn.log_model(model, "model", input_example=[[0.5, 0.5]])
    run_id = run.info.run_id
    with mltrail.start_run(run_name="no-models") as empty:
        mltrail.log_param("x", 1)
    args = {
        "url": url,
        "run_id": run_id,
        "experiment_id": experiment_id,
        "name": MODEL_NAME,
        "xss": XSS,
        "xss_name": XSS_NAME,
        "empty": EMPTY_MODEL,
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "MLTRAIL_"))}
    done = subprocess.run(
        [str(mlflow_python()), "-c", MLFLOW_SCRIPT, json.dumps(args)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the mlflow client failed:\n{done.stderr[-4000:]}")
    created = json.loads(done.stdout.strip().splitlines()[-1])
    return SeededModels(
        experiment_id=experiment_id,
        run_id=run_id,
        empty_run_id=empty.info.run_id,
        logged_model_id=created["logged_model_id"],
    )
