"""Log a small but complete MLflow history with the real mlflow client (run with its python).

Usage: python build_mlflow_data.py TRACKING_URI [--long-points N]

What it makes, for the import tests: four experiments (one deleted, one with tags and a
description), nested parent/child runs, a deleted run, runs in every terminal status,
NaN/+Inf/-Inf points, a long history logged with log_batch, artifacts in nested folders
(text, binary, empty), a logged dataset input, git/source tags, and a scikit-learn model
registered three times (version 2 deleted, so the numbers have a gap) with stages, tags,
descriptions and aliases. It prints a JSON summary of the ids it made on its last line.
"""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
import warnings

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import Metric
from sklearn.linear_model import LogisticRegression

warnings.filterwarnings("ignore")


def _iris_like() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(7)
    features = pd.DataFrame(rng.normal(size=(60, 3)), columns=["a", "b", "c"])
    labels = (features["a"] + 0.5 * features["b"] > 0).astype(int).to_numpy()
    return features, labels


def main() -> None:
    uri = sys.argv[1]
    long_points = (
        int(sys.argv[sys.argv.index("--long-points") + 1]) if "--long-points" in sys.argv else 3000
    )
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(uri)
    out: dict[str, object] = {"runs": {}}
    runs: dict[str, str] = out["runs"]  # type: ignore[assignment]

    # Default experiment: one run, so that the catch-all experiment is imported too.
    with mlflow.start_run(experiment_id="0", run_name="in-default") as run:
        mlflow.log_param("where", "default")
        mlflow.log_metric("x", 1.0)
    runs["in-default"] = run.info.run_id

    churn = client.create_experiment(
        "churn", tags={"team": "ml", "mlflow.note.content": "Churn models"}
    )
    features, labels = _iris_like()
    model_uris = []
    for i, c in enumerate([0.1, 1.0, 10.0]):
        with mlflow.start_run(experiment_id=churn, run_name=f"logreg-{i}") as run:
            mlflow.set_tags(
                {
                    "mlflow.source.git.commit": f"abc{i}",
                    "mlflow.source.name": "train.py",
                    "stage": "dev",
                }
            )
            mlflow.log_params({"C": c, "solver": "lbfgs", "fold": i})
            model = LogisticRegression(C=c).fit(features, labels)
            for step in range(20):
                mlflow.log_metric("loss", 1.0 / (step + 1 + i), step=step)
            mlflow.log_metric("accuracy", float(model.score(features, labels)))
            dataset = mlflow.data.from_pandas(
                features.assign(y=labels), name="churn-train", targets="y"
            )
            mlflow.log_input(dataset, context="training")
            info = mlflow.sklearn.log_model(
                model,
                name="model",
                input_example=features.iloc[:3],
                pip_requirements=["scikit-learn"],
            )
            model_uris.append((info.model_uri, info.model_id))
        runs[f"logreg-{i}"] = run.info.run_id

    # Registry: three versions, version 2 deleted (a gap), aliases, stages, tags, descriptions.
    client.create_registered_model(
        "churn-model", tags={"owner": "ml"}, description="Churn classifier"
    )
    for i, (model_uri, model_id) in enumerate(model_uris):
        client.create_model_version(
            "churn-model",
            model_uri,
            run_id=runs[f"logreg-{i}"],
            tags={"fold": str(i)},
            description=f"version from fold {i}",
            model_id=model_id,
        )
    client.delete_model_version("churn-model", "2")
    client.set_registered_model_alias("churn-model", "champion", "3")
    client.set_registered_model_alias("churn-model", "previous", "1")
    client.transition_model_version_stage("churn-model", "3", "Production")
    client.transition_model_version_stage("churn-model", "1", "Archived")
    client.set_model_version_tag("churn-model", "3", "validated", "yes")
    client.create_registered_model("empty-model", description="no versions yet")

    vision = client.create_experiment("vision", tags={"kind": "cv"})
    with mlflow.start_run(experiment_id=vision, run_name="parent") as parent:
        mlflow.log_param("epochs", 3)
        for k in range(2):
            with mlflow.start_run(
                experiment_id=vision, run_name=f"child-{k}", nested=True
            ) as child:
                mlflow.log_param("k", k)
                mlflow.log_metric("loss", 0.5 - 0.1 * k, step=0)
            runs[f"child-{k}"] = child.info.run_id
        # Non-finite points and a long history in a few log_batch calls.
        mlflow.log_metric("weird", float("nan"), step=0)
        mlflow.log_metric("weird", float("inf"), step=1)
        mlflow.log_metric("weird", float("-inf"), step=2)
        mlflow.log_metric("weird", 3.5, step=3)
        ts = 1_700_000_000_000
        points = [Metric("long", math.sin(s / 50.0), ts + s, s) for s in range(long_points)]
        for start in range(0, len(points), 1000):
            client.log_batch(parent.info.run_id, metrics=points[start : start + 1000])
        with tempfile.TemporaryDirectory() as tmp:
            os.makedirs(os.path.join(tmp, "plots", "deep"))
            with open(os.path.join(tmp, "plots", "deep", "curve.bin"), "wb") as fh:
                fh.write(np.random.default_rng(3).bytes(50_000))
            open(os.path.join(tmp, "plots", "empty.txt"), "w").close()
            mlflow.log_artifacts(tmp, artifact_path="outputs")
        mlflow.log_text("hello artifacts\n", "notes/readme.txt")
        mlflow.log_dict({"a": 1, "b": [1, 2]}, "config.json")
    runs["parent"] = parent.info.run_id

    for status in ("FAILED", "KILLED"):
        with mlflow.start_run(experiment_id=vision, run_name=f"ended-{status.lower()}") as run:
            mlflow.log_metric("loss", 9.0)
            mlflow.end_run(status=status)
        runs[f"ended-{status.lower()}"] = run.info.run_id

    with mlflow.start_run(experiment_id=vision, run_name="removed") as run:
        mlflow.log_param("gone", "yes")
        mlflow.log_metric("loss", 7.0)
    client.delete_run(run.info.run_id)
    runs["removed"] = run.info.run_id

    old = client.create_experiment("old")
    with mlflow.start_run(experiment_id=old, run_name="old-run") as run:
        mlflow.log_metric("loss", 2.0)
    runs["old-run"] = run.info.run_id
    client.delete_experiment(old)

    out["experiments"] = {"churn": churn, "vision": vision, "old": old}
    sys.stdout.write(json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
