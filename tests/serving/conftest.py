"""Models to serve, and real ``mltrail models serve`` processes to serve them.

In-process tests talk to the ASGI app through Starlette's TestClient; tests that need a real
process (workers, --watch, --log-to-run, signals, MLflow's server beside ours) start one with
``start_serving`` and stop it when the test ends.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

FEATURES = [f"f{i}" for i in range(6)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def training_frame(rows: int = 200, *, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(rows, len(FEATURES))), columns=FEATURES)
    target = frame.sum(axis=1) + rng.normal(scale=0.1, size=rows)
    return frame, target


def mixed_frame(rows: int = 200) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {
            "amount": rng.normal(size=rows),
            "visits": rng.integers(0, 10, size=rows),
            "plan": rng.choice(["basic", "pro", "team"], size=rows),
        }
    )
    target = frame["amount"] * 2 + frame["visits"] + (frame["plan"] == "pro") * 3
    return frame, target


def mixed_pipeline() -> object:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    columns = ColumnTransformer(
        [
            ("num", "passthrough", ["amount", "visits"]),
            ("plan", OneHotEncoder(handle_unknown="ignore"), ["plan"]),
        ]
    )
    return Pipeline([("columns", columns), ("ridge", Ridge())])


@pytest.fixture(scope="session")
def ridge_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Ridge on six double columns, saved with its signature (skops)."""
    from sklearn.linear_model import Ridge

    import mltrail.sklearn

    frame, target = training_frame()
    path = tmp_path_factory.mktemp("models") / "ridge"
    mltrail.sklearn.save_model(Ridge().fit(frame, target), path, input_example=frame.head(3))
    return path


@pytest.fixture(scope="session")
def mixed_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A pipeline over a double, a long and a string column."""
    import mltrail.sklearn

    frame, target = mixed_frame()
    path = tmp_path_factory.mktemp("models") / "mixed"
    model = mixed_pipeline()
    model.fit(frame, target)  # type: ignore[attr-defined]
    mltrail.sklearn.save_model(model, path, input_example=frame.head(3))
    return path


@dataclass
class Serving:
    url: str
    proc: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]

    def stop(self, *, timeout: float = 60) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
        return int(self.proc.returncode)


def wait_for_ping(
    url: str, proc: subprocess.Popen[bytes], log: Path, *, timeout: float = 180
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(
                f"server exited with {proc.returncode}:\n{log.read_text(errors='replace')[-6000:]}"
            )
        try:
            with urllib.request.urlopen(f"{url}/ping", timeout=5) as answer:
                if answer.status == 200:
                    return
        except (OSError, urllib.error.URLError):
            time.sleep(0.3)
    pytest.fail(f"server did not answer /ping at {url}:\n{log.read_text(errors='replace')[-6000:]}")


def clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MLTRAIL_", "MLFLOW_", "PROMETHEUS_"))
    }
    env.update(extra)
    return env


@pytest.fixture
def start_serving(tmp_path: Path) -> Iterator[object]:
    """``start(args, tracking_uri=...)`` runs ``mltrail models serve ARGS`` on a free port."""
    started: list[Serving] = []

    def start(
        args: Sequence[str], *, tracking_uri: str | None = None, env: dict[str, str] | None = None
    ) -> Serving:
        port = free_port()
        log_path = tmp_path / f"serve-{port}.log"
        command = [sys.executable, "-m", "mltrail"]
        if tracking_uri is not None:
            command += ["--tracking-uri", tracking_uri]
        command += ["models", "serve", "--port", str(port), *args]
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=tmp_path,
                env=clean_env(**(env or {})),
            )
        serving = Serving(url=f"http://127.0.0.1:{port}", proc=proc, log_path=log_path)
        started.append(serving)
        wait_for_ping(serving.url, proc, log_path)
        return serving

    yield start
    for serving in started:
        serving.stop()
