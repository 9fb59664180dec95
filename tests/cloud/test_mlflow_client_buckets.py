"""The unmodified mlflow client logs artifacts and a model through a server whose artifacts live
in a bucket (S3 on moto, GCS on the emulator, an Azure container on Azurite); the client has no
cloud credentials at all."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path

import pytest

from .conftest import new_bucket, start_bucket_server

REPO_ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import json, os, tempfile
import mlflow
import numpy as np
from sklearn.linear_model import LogisticRegression

X = np.array([[0.0, 1.0], [1.0, 0.0], [0.2, 0.9], [0.9, 0.1]])
y = np.array([0, 1, 0, 1])
model = LogisticRegression().fit(X, y)
mlflow.set_experiment("buckets")
with mlflow.start_run() as run:
    mlflow.log_param("C", 1.0)
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "notes.txt"), "w") as f:
            f.write("stored in a bucket")
        mlflow.log_artifact(os.path.join(d, "notes.txt"), "docs")
    info = mlflow.sklearn.log_model(model, name="model")
client = mlflow.MlflowClient()
listed = [f.path for f in client.list_artifacts(run.info.run_id, "docs")]
downloaded = mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="docs/notes.txt")
loaded = mlflow.pyfunc.load_model(info.model_uri)
print(json.dumps({
    "run_id": run.info.run_id,
    "model_id": info.model_id,
    "listed": listed,
    "text": open(downloaded).read(),
    "same_predictions": loaded.predict(X).tolist() == model.predict(X).tolist(),
}))
"""


def _mlflow_python() -> Path:
    configured = os.environ.get("MLTRAIL_TEST_MLFLOW_PYTHON")
    path = Path(configured) if configured else REPO_ROOT / ".venv-mlflow" / "bin" / "python"
    if not path.exists():
        pytest.fail(f"{path} is missing: run `make install-mlflow`")
    return path


def _run_mlflow(url: str, workdir: Path) -> dict[str, object]:
    script = workdir / "train.py"
    script.write_text(textwrap.dedent(SCRIPT))
    # No cloud credentials or endpoints: only the tracking URI.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(
            ("MLFLOW_", "MLTRAIL_", "AWS_", "GOOGLE_", "AZURE_", "FSSPEC_", "GCSFS_")
        )
    }
    env.update(MLFLOW_TRACKING_URI=url, MLFLOW_HTTP_REQUEST_MAX_RETRIES="0")
    env["AWS_SHARED_CREDENTIALS_FILE"] = str(workdir / "no-credentials")
    env["AWS_CONFIG_FILE"] = str(workdir / "no-config")
    done = subprocess.run(
        [str(_mlflow_python()), str(script)],
        env=env,
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.slow
@pytest.mark.mlflow
@pytest.mark.parametrize("cloud", ["s3", "gs", "az"])
def test_mlflow_client_through_a_server_on_a_bucket(
    cloud: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    bucket = new_bucket(cloud, request)
    destination = f"{bucket.url}/dest"
    with start_bucket_server(
        ["--artifacts-destination", destination], tmp_path=tmp_path, env=bucket.env
    ) as server:
        workdir = tmp_path / "client"
        workdir.mkdir()
        result = _run_mlflow(server.url, workdir)

    assert result["listed"] == ["docs/notes.txt"]
    assert result["text"] == "stored in a bucket"
    assert result["same_predictions"] is True
    stored = bucket.keys()
    run_id, model_id = result["run_id"], result["model_id"]
    assert any(
        k.startswith("dest/") and k.endswith(f"{run_id}/artifacts/docs/notes.txt") for k in stored
    )
    model_files = [k for k in stored if f"/models/{model_id}/artifacts/" in k]
    assert any(k.endswith("/MLmodel") for k in model_files), stored
