"""What the real mlflow client reads from a tracking URI, as JSON (run with its python).

Usage: MLFLOW_TRACKING_URI=... python probe_mlflow.py OUT.json

The import tests run it against MLflow (the source) and against an mltrail server over
the imported store, and compare the two answers: experiments, every run (info, params,
tags, latest metrics, inputs, outputs), every metric history, artifact listings and the
SHA-256 of every downloaded file, a filtered and ordered search, logged models, the
registry, and the predictions of ``models:/churn-model@champion``.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import warnings

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import ViewType

warnings.filterwarnings("ignore")


def _walk(client: MlflowClient, run_id: str, path: str | None, out: dict[str, int]) -> None:
    for f in client.list_artifacts(run_id, path):
        if f.is_dir:
            _walk(client, run_id, f.path, out)
        else:
            out[f.path] = int(f.file_size or 0)


def _digest(client: MlflowClient, run_id: str, path: str) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        local = client.download_artifacts(run_id, path, tmp)
        with open(local, "rb") as fh:
            return hashlib.sha256(fh.read()).hexdigest()


def _run(client: MlflowClient, run: object) -> dict[str, object]:
    info, data = run.info, run.data  # type: ignore[attr-defined]
    artifacts: dict[str, int] = {}
    _walk(client, info.run_id, None, artifacts)
    histories = {
        key: [
            [m.step, m.timestamp, repr(m.value)]
            for m in client.get_metric_history(info.run_id, key)
        ]
        for key in sorted(data.metrics)
    }
    inputs = run.inputs  # type: ignore[attr-defined]
    outputs = getattr(run, "outputs", None)
    return {
        "run_name": info.run_name,
        "status": info.status,
        "start_time": info.start_time,
        "end_time": info.end_time,
        "user_id": info.user_id,
        "lifecycle_stage": info.lifecycle_stage,
        "params": dict(data.params),
        "tags": dict(data.tags),
        "metrics": {k: repr(v) for k, v in data.metrics.items()},
        "histories": histories,
        "datasets": sorted(
            [
                d.dataset.name,
                d.dataset.digest,
                d.dataset.source_type,
                sorted((t.key, t.value) for t in d.tags),
            ]
            for d in (inputs.dataset_inputs if inputs else [])
        ),
        "model_outputs": sorted(m.model_id for m in (outputs.model_outputs if outputs else [])),
        "artifacts": {p: [s, _digest(client, info.run_id, p)] for p, s in artifacts.items()},
    }


def main() -> None:
    client = MlflowClient()
    out: dict[str, object] = {}
    experiments = client.search_experiments(view_type=ViewType.ALL)
    out["experiments"] = {
        e.name: {
            "lifecycle_stage": e.lifecycle_stage,
            "tags": dict(e.tags),
            "creation_time": e.creation_time,
        }
        for e in experiments
    }
    ids = {e.name: e.experiment_id for e in experiments}
    runs: dict[str, object] = {}
    for e in experiments:
        for run in client.search_runs(
            [e.experiment_id], run_view_type=ViewType.ALL, max_results=1000
        ):
            runs[run.info.run_id] = {"experiment": e.name, **_run(client, run)}
    out["runs"] = runs
    if "churn" in ids:
        found = client.search_runs(
            [ids["churn"]],
            filter_string="metrics.loss < 0.06 and params.solver = 'lbfgs'",
            order_by=["metrics.loss ASC"],
        )
        out["search"] = [r.info.run_id for r in found]
        models = client.search_logged_models(experiment_ids=[ids["churn"]])
        out["logged_models"] = {
            m.model_id: {
                "name": m.name,
                "status": str(m.status),
                "source_run_id": m.source_run_id,
                "params": dict(m.params),
                "tags": {k: v for k, v in m.tags.items() if k != "mlflow.modelVersions"},
                "metrics": sorted([x.key, repr(x.value), x.step] for x in (m.metrics or [])),
            }
            for m in models
        }
    registry = {}
    for rm in client.search_registered_models():
        versions = client.search_model_versions(f"name='{rm.name}'")
        registry[rm.name] = {
            "description": rm.description,
            "tags": dict(rm.tags),
            "aliases": dict(rm.aliases),
            "versions": {
                str(v.version): {
                    "stage": v.current_stage,
                    "description": v.description,
                    "tags": dict(v.tags),
                    "run_id": v.run_id,
                    "status": v.status,
                }
                for v in versions
            },
        }
    out["registry"] = registry
    if "churn-model" in registry:
        champion = client.get_model_version_by_alias("churn-model", "champion")
        out["champion"] = champion.version
        rng = np.random.default_rng(11)
        features = pd.DataFrame(rng.normal(size=(8, 3)), columns=["a", "b", "c"])
        model = mlflow.sklearn.load_model("models:/churn-model@champion")
        out["predictions"] = [int(x) for x in model.predict(features)]
    with open(sys.argv[1], "w") as fh:
        json.dump(out, fh, indent=1, sort_keys=True, default=str)
    sys.stdout.write(json.dumps({"ok": True, "uri": os.environ.get("MLFLOW_TRACKING_URI")}) + "\n")


if __name__ == "__main__":
    main()
