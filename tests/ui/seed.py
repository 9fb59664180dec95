"""Populate a tracking server with realistic runs for the UI tests and the docs screenshots.

Everything goes through the mltrail client over HTTP, as a user's training script would.
Text fields carry XSS payloads so that the pages' escaping is exercised everywhere.
"""

from __future__ import annotations

import json
import math
import struct
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from mltrail.client.tracking_client import TrackingClient
from mltrail.entities import Metric, Param, RunTag

XSS_IMG = "<img src=x onerror=alert(1)>"
XSS_SCRIPT = '"><script>alert(1)</script>'
XSS = XSS_IMG + XSS_SCRIPT


@dataclass
class Seeded:
    url: str
    main_experiment: str = ""
    xss_experiment: str = ""
    empty_experiment: str = ""
    runs: dict[str, str] = field(default_factory=dict)  # name -> run_id
    parent: str = ""
    children: list[str] = field(default_factory=list)
    xss_run: str = ""


def png_bytes(width: int = 32, height: int = 16) -> bytes:
    """A small gradient PNG (no imaging library needed)."""
    rows = b"".join(
        b"\x00" + bytes(v for x in range(width) for v in (x * 8 % 256, y * 16 % 256, 160))
        for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


MLMODEL = """artifact_path: model
flavors:
  python_function:
    loader_module: mltrail.sklearn
    python_version: 3.11.0
  sklearn:
    pickled_model: model.skops
    sklearn_version: 1.5.0
run_id: {run_id}
signature:
  inputs: '[{{"type": "double", "name": "age"}}, {{"type": "double", "name": "bmi"}}]'
  outputs: '[{{"type": "double"}}]'
"""


def _history(run_seed: int, steps: int, *, now: int) -> list[Metric]:
    metrics: list[Metric] = []
    for step in range(steps):
        ts = now - (steps - step) * 1000
        loss = 1.0 / (1 + step * (0.02 + 0.005 * run_seed)) + 0.02 * math.sin(step / 5)
        if step == steps // 2:
            loss += 3.0  # a spike the downsampling must keep
        metrics.append(Metric("loss", loss, ts, step))
        metrics.append(Metric("accuracy", 1 - loss / 2, ts, step))
    return metrics


def seed(url: str, *, steps: int = 400) -> Seeded:
    client = TrackingClient(url)
    now = int(time.time() * 1000)
    out = Seeded(url=url)
    out.main_experiment = client.create_experiment("churn-model")
    out.empty_experiment = client.create_experiment("empty-experiment")
    out.xss_experiment = client.create_experiment("xss " + XSS)

    solvers = ["lbfgs", "saga", "newton-cg", "lbfgs", "saga"]
    for i, solver in enumerate(solvers):
        name = f"run-{i}-{solver}"
        run = client.create_run(
            out.main_experiment,
            run_name=name,
            start_time=now - (10 - i) * 60_000,
            tags={"mlflow.source.name": "train.py", "team": "vision" if i % 2 else "tabular"},
        )
        run_id = run.info.run_id
        out.runs[name] = run_id
        client.log_batch(
            run_id,
            metrics=[*_history(i, steps, now=now), Metric("rmse", 0.3 + 0.1 * i, now, 0)],
            params=[Param("C", str(0.1 * (i + 1))), Param("solver", solver), Param("seed", str(i))],
            tags=[RunTag("mlflow.source.git.commit", f"{i:02d}" + "ab" * 19)],
        )
        client.set_terminated(run_id, "FINISHED" if i != 3 else "FAILED")

    parent = client.create_run(out.main_experiment, run_name="sweep-parent")
    out.parent = parent.info.run_id
    for j in range(2):
        child = client.create_run(
            out.main_experiment,
            run_name=f"sweep-child-{j}",
            tags={"mlflow.parentRunId": out.parent},
        )
        client.log_batch(
            child.info.run_id,
            metrics=[Metric("rmse", 0.5 - j * 0.1, now, 0)],
            params=[Param("C", str(j + 10))],
        )
        out.children.append(child.info.run_id)

    first = out.runs["run-0-lbfgs"]
    client.set_tag(first, "mlflow.note.content", "# Baseline\nThe **first** run, with `lbfgs`.")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "metrics.csv").write_text("epoch,loss,acc\n1,0.9,0.5\n2,0.5,0.7\n3,0.25,0.91\n")
        (folder / "config.json").write_text(json.dumps({"lr": 0.01, "layers": [64, 32]}))
        (folder / "params.yaml").write_text("lr: 0.01\nlayers: [64, 32]\n")
        (folder / "plot.png").write_bytes(png_bytes())
        (folder / "notes.txt").write_text("plain text notes\n")
        for name in ("metrics.csv", "config.json", "params.yaml", "plot.png", "notes.txt"):
            client.log_artifact(first, folder / name)
        model = folder / "model"
        model.mkdir()
        (model / "MLmodel").write_text(MLMODEL.format(run_id=first))
        (model / "requirements.txt").write_text("scikit-learn==1.5.0\n")
        client.log_artifacts(first, model, "model")

    xss = client.create_run(out.xss_experiment, run_name="xss " + XSS, tags={"t:xss": XSS})
    out.xss_run = xss.info.run_id
    client.log_batch(
        out.xss_run,
        metrics=[Metric("m/xss", float(s), now + s, s) for s in range(20)],
        params=[Param("p xss", XSS)],
        tags=[RunTag("mlflow.note.content", XSS + "\n[x](javascript:alert(1)) **b" + XSS + "**")],
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "page.html").write_text("<html><body><script>alert(1)</script>hi</body></html>")
        (folder / "image.svg").write_text(
            '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>'
        )
        (folder / "data.json").write_text(json.dumps({"k": XSS}))
        (folder / "table.csv").write_text(f"a,b\n{XSS},2\n")
        for name in ("page.html", "image.svg", "data.json", "table.csv"):
            client.log_artifact(out.xss_run, folder / name)
        weird = folder / "weird"
        weird.mkdir()
        (weird / "a'b&c.txt").write_text(XSS)
        (weird / (XSS_IMG + ".txt")).write_text(XSS)
        client.log_artifacts(out.xss_run, weird, "dir")
    return out
