"""The same model, the same requests: ``mltrail models serve`` answers as
``mlflow models serve --env-manager local`` does.

The models are logged with the real mlflow client into a real mltrail tracking server (so
they are MLflow's own model files: skops format, MLflow's MLmodel) and registered there with
an alias. Both scoring servers then load ``models:/<name>@champion`` from that tracking server
as real processes, and each request goes to both.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mlflow_compat.conftest import Server, start_server

from .conftest import clean_env, free_port, wait_for_ping

pytestmark = pytest.mark.mlflow

REPO = Path(__file__).resolve().parents[2]

LOG_MODELS = """
import json, sys
import numpy as np, pandas as pd
import mlflow
from mlflow import MlflowClient
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

rng = np.random.default_rng(0)
cols = [f"f{i}" for i in range(20)]
x = pd.DataFrame(rng.normal(size=(300, 20)), columns=cols)
y = x.sum(axis=1) + rng.normal(scale=0.1, size=300)
mixed = pd.DataFrame({
    "amount": rng.normal(size=300),
    "visits": rng.integers(0, 10, size=300),
    "plan": rng.choice(["basic", "pro", "team"], size=300),
})
target = mixed["amount"] * 2 + mixed["visits"] + (mixed["plan"] == "pro") * 3
pipeline = Pipeline([
    ("columns", ColumnTransformer([
        ("num", "passthrough", ["amount", "visits"]),
        ("plan", OneHotEncoder(handle_unknown="ignore"), ["plan"]),
    ])),
    ("ridge", Ridge()),
])
mlflow.set_experiment("parity")
client = MlflowClient()
for name, model, example in [("ridge20", Ridge().fit(x, y), x.head(5)),
                             ("plans", pipeline.fit(mixed, target), mixed.head(5))]:
    with mlflow.start_run():
        info = mlflow.sklearn.log_model(model, name="model", input_example=example,
                                        registered_model_name=name)
    client.set_registered_model_alias(name, "champion", info.registered_model_version)
print(json.dumps({"ok": True}))
"""


@dataclass
class Pair:
    mlflow_url: str
    mltrail_url: str


@pytest.fixture(scope="module")
def mlflow_python() -> Path:
    configured = os.environ.get("MLTRAIL_TEST_MLFLOW_PYTHON")
    path = Path(configured) if configured else REPO / ".venv-mlflow" / "bin" / "python"
    if not path.exists():
        pytest.fail(f"The mlflow client python {path} does not exist: run `make install-mlflow`")
    return path


@pytest.fixture(scope="module")
def tracking(tmp_path_factory: pytest.TempPathFactory, mlflow_python: Path) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("parity")
    for server in start_server(tmp):
        script = tmp / "log_models.py"
        script.write_text(textwrap.dedent(LOG_MODELS))
        done = subprocess.run(
            [str(mlflow_python), str(script)],
            env=clean_env(MLFLOW_TRACKING_URI=server.url, GIT_PYTHON_REFRESH="quiet"),
            cwd=tmp,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr[-4000:] + server.log()
        yield server


def _start(
    command: list[str], *, env: dict[str, str], log: Path, cwd: Path
) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        # A session of its own: mlflow's CLI starts uvicorn as a child, and both must go.
        return subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=cwd, start_new_session=True
        )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


@pytest.fixture(scope="module", params=["ridge20", "plans"])
def pair(
    request: pytest.FixtureRequest,
    tracking: Server,
    mlflow_python: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Pair]:
    name = request.param
    tmp = tmp_path_factory.mktemp(f"pair-{name}")
    uri = f"models:/{name}@champion"
    mlflow_port, mltrail_port = free_port(), free_port()
    mlflow_bin = str(Path(mlflow_python).parent / "mlflow")
    mlflow_proc = _start(
        [mlflow_bin, "models", "serve", "-m", uri, "--env-manager", "local",
         "--host", "127.0.0.1", "--port", str(mlflow_port)],
        env=clean_env(
            MLFLOW_TRACKING_URI=tracking.url,
            GIT_PYTHON_REFRESH="quiet",
            # mlflow starts its server as `uvicorn ...`, found on PATH.
            PATH=f"{Path(mlflow_python).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        ),
        log=tmp / "mlflow.log",
        cwd=tmp,
    )  # fmt: skip
    mltrail_proc = _start(
        [sys.executable, "-m", "mltrail", "--tracking-uri", tracking.url, "models", "serve",
         "-m", uri, "--port", str(mltrail_port)],
        env=clean_env(),
        log=tmp / "mltrail.log",
        cwd=tmp,
    )  # fmt: skip
    try:
        pair = Pair(f"http://127.0.0.1:{mlflow_port}", f"http://127.0.0.1:{mltrail_port}")
        wait_for_ping(pair.mltrail_url, mltrail_proc, tmp / "mltrail.log", timeout=180)
        wait_for_ping(pair.mlflow_url, mlflow_proc, tmp / "mlflow.log", timeout=300)
        yield pair
    finally:
        _stop(mltrail_proc)
        _stop(mlflow_proc)


def post(url: str, body: bytes, content_type: str) -> tuple[int, Any]:
    request = urllib.request.Request(
        f"{url}/invocations", data=body, headers={"Content-Type": content_type}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        text = exc.read()
        try:
            return exc.code, json.loads(text)
        except ValueError:
            return exc.code, text.decode(errors="replace")


def _frames(name: str) -> list[Any]:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(7)
    if name == "ridge20":
        cols = [f"f{i}" for i in range(20)]
        frames = [pd.DataFrame(rng.normal(size=(n, 20)), columns=cols) for n in (1, 3, 1000)]
        frames.append(pd.DataFrame(rng.integers(-5, 5, size=(4, 20)), columns=cols))
        return frames
    return [
        pd.DataFrame(
            {
                "amount": rng.normal(size=n),
                "visits": rng.integers(0, 10, size=n),
                "plan": rng.choice(["basic", "pro", "team", "new"], size=n),
            }
        )
        for n in (1, 5, 1000)
    ]


def _valid_bodies(name: str) -> list[tuple[bytes, str]]:
    bodies = []
    for frame in _frames(name):
        split = frame.to_dict(orient="split", index=False)
        records = frame.to_dict(orient="records")
        shuffled = frame[list(frame.columns)[::-1]]
        for document in (
            {"dataframe_split": split},
            {"dataframe_records": records},
            {"instances": records},
            {"inputs": frame.to_dict(orient="list")},
            {"dataframe_split": shuffled.to_dict(orient="split", index=False)},
            {"dataframe_records": records, "params": {"unused": 1}},
            {"dataframe_records": frame.assign(extra=1).to_dict(orient="records")},
        ):
            bodies.append((json.dumps(document).encode(), "application/json"))
        bodies.append((frame.to_csv(index=False).encode(), "text/csv"))
    return bodies


def test_valid_requests_get_the_same_json(pair: Pair, request: pytest.FixtureRequest) -> None:
    name = request.node.callspec.params["pair"]
    for body, content_type in _valid_bodies(name):
        theirs = post(pair.mlflow_url, body, content_type)
        ours = post(pair.mltrail_url, body, content_type)
        assert theirs[0] == 200, theirs
        assert ours == theirs, body[:200]


def test_requests_mlflow_refuses_are_refused(pair: Pair, request: pytest.FixtureRequest) -> None:
    name = request.node.callspec.params["pair"]
    first = _frames(name)[0].to_dict(orient="records")[0]
    missing = {k: v for i, (k, v) in enumerate(first.items()) if i}
    bodies = [
        (b"{", "application/json"),
        (b"[1, 2]", "application/json"),
        (b'{"inputs": [], "instances": []}', "application/json"),
        (json.dumps({"dataframe_records": [missing]}).encode(), "application/json"),
        (
            json.dumps({"dataframe_records": [{**first, next(iter(first)): "text"}]}).encode(),
            "application/json",
        ),
    ]
    for body, content_type in bodies:
        theirs = post(pair.mlflow_url, body, content_type)
        ours = post(pair.mltrail_url, body, content_type)
        assert 400 <= theirs[0] < 500, (body, theirs)
        assert ours[0] == 400, (body, ours)
        assert set(ours[1]) >= {"error_code", "message"}
    ours = post(pair.mltrail_url, b"x", "text/plain")
    theirs = post(pair.mlflow_url, b"x", "text/plain")
    assert ours[0] == theirs[0] == 415


def test_version_names_the_registry_version(pair: Pair, request: pytest.FixtureRequest) -> None:
    name = request.node.callspec.params["pair"]
    with urllib.request.urlopen(f"{pair.mltrail_url}/version", timeout=30) as answer:
        version = json.loads(answer.read())
    assert (version["model_name"], version["model_version"], version["alias"]) == (
        name,
        1,
        "champion",
    )
    assert version["libraries"]["scikit-learn"]["recorded"]
    time.sleep(0)
