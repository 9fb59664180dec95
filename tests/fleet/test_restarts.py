"""Sixteen client processes log through nginx (eight with the mltrail client, eight with the
unmodified mlflow client) while one replica is stopped with SIGTERM and another is killed
with SIGKILL (its whole process group: supervisor and workers), and each is started again.

Every point, param, tag and artifact arrives exactly once, every run ends FINISHED, and no
client fails: whatever failed on the way was retried by the client.

The clients log until the test tells them to stop, after the restarts, so the restarts
always happen under load whatever the machine's speed. Each client's values encode its seed
and step, so the exact histories are known. Runs are created before the first stop (the
mlflow protocol has no way to make a re-sent run creation idempotent; the mltrail client's
is: tests/durability/test_lost_answers.py).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from fleet.cluster import clean_env
from fleet.conftest import ADMIN, ADMIN_PASSWORD, Fleet, FleetFactory
from mlflow_compat.conftest import mlflow_python  # noqa: F401  (the mlflow client's python)
from mltrail.client.tracking_client import TrackingClient

EXPERIMENT = "fleet"
CLIENTS_PER_KIND = 8

MLTRAIL_CLIENT = """
import pathlib, sys, time
import mltrail

name, seed, stop = sys.argv[1], int(sys.argv[2]), pathlib.Path(sys.argv[3])
mltrail.set_experiment({experiment!r})
with mltrail.start_run(run_name=name) as run:
    print("started", run.info.run_id, flush=True)
    mltrail.log_params({{"client": name, "kind": "mltrail", "seed": str(seed)}})
    mltrail.set_tag("fleet", name)
    step = 0
    while step < 200 or not stop.exists():
        mltrail.log_metric("loss", seed * 1e6 + step, step=step)
        mltrail.log_metric("acc", -float(step), step=step)
        step += 1
        if step % 50 == 0:
            time.sleep(0.2)
        if step % 500 == 0:
            mltrail.flush()
    data = pathlib.Path(name + ".txt")
    data.write_text((name + "\\n") * 5000)
    mltrail.log_artifact(str(data))
    mltrail.log_text("hello " + name, "notes/hello.txt")
print("steps", step, flush=True)
"""

MLFLOW_CLIENT = """
import pathlib, sys
import mlflow

name, seed, stop = sys.argv[1], int(sys.argv[2]), pathlib.Path(sys.argv[3])
mlflow.set_experiment({experiment!r})
with mlflow.start_run(run_name=name) as run:
    print("started", run.info.run_id, flush=True)
    mlflow.log_params({{"client": name, "kind": "mlflow", "seed": str(seed)}})
    mlflow.set_tag("fleet", name)
    step = 0
    while step < 20 or not stop.exists():
        # One log-batch request with one point per key, as a training loop sends them...
        mlflow.log_metrics({{"loss": seed * 1e6 + step, "acc": -float(step)}}, step=step)
        # ...and one log-metric request now and then.
        if step % 10 == 0:
            mlflow.log_metric("single", float(step), step=step)
        step += 1
    data = pathlib.Path(name + ".txt")
    data.write_text((name + "\\n") * 5000)
    mlflow.log_artifact(str(data))
    mlflow.log_text("hello " + name, "notes/hello.txt")
print("steps", step, flush=True)
"""


@dataclass
class Client:
    name: str
    kind: str
    seed: int
    process: subprocess.Popen[str]
    run_id: str = ""
    steps: int = 0
    stderr: str = ""


def _start_clients(fleet: Fleet, python: Path, workdir: Path, stop: Path) -> list[Client]:
    with fleet.admin() as admin:
        token = admin.post("/api/v1/tokens", json={"name": "mlflow-clients"}).json()["token"]
    mltrail_env = clean_env(
        {
            "MLTRAIL_TRACKING_URI": fleet.url,
            "MLTRAIL_TRACKING_USERNAME": ADMIN,
            "MLTRAIL_TRACKING_PASSWORD": ADMIN_PASSWORD,
            "MLTRAIL_SPOOL_DIR": str(workdir / "spool"),
            "MLTRAIL_HTTP_MAX_RETRIES": "12",
            "MLTRAIL_FLUSH_TIMEOUT": "120",
        }
    )
    mlflow_env = clean_env(
        {
            "MLFLOW_TRACKING_URI": fleet.url,
            "MLFLOW_TRACKING_TOKEN": token,
            "GIT_PYTHON_REFRESH": "quiet",
        }
    )
    clients: list[Client] = []
    for i in range(2 * CLIENTS_PER_KIND):
        kind = "mltrail" if i % 2 == 0 else "mlflow"
        name = f"{kind}-{i}"
        folder = workdir / name
        folder.mkdir(parents=True)
        if kind == "mltrail":
            command = [sys.executable, "-c", textwrap.dedent(MLTRAIL_CLIENT)]
            env = mltrail_env
        else:
            command = [str(python), "-c", textwrap.dedent(MLFLOW_CLIENT)]
            env = mlflow_env
        command[-1] = command[-1].format(experiment=EXPERIMENT)
        process = subprocess.Popen(
            [*command, name, str(i + 1), str(stop)],
            cwd=folder,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        clients.append(Client(name, kind, i + 1, process))
    return clients


def _wait_started(clients: list[Client]) -> None:
    for client in clients:
        assert client.process.stdout is not None
        line = client.process.stdout.readline().split()
        if not line or line[0] != "started":
            client.process.kill()
            _, err = client.process.communicate(timeout=30)
            pytest.fail(f"{client.name} did not start:\n{err[-3000:]}")
        client.run_id = line[1]


def _finish(clients: list[Client]) -> None:
    for client in clients:
        try:
            out, err = client.process.communicate(timeout=600)
        finally:
            if client.process.poll() is None:
                client.process.kill()
        client.stderr = err
        assert client.process.returncode == 0, f"{client.name}:\n{err[-4000:]}"
        assert "Traceback" not in err, f"{client.name}:\n{err[-4000:]}"
        client.steps = int(out.split()[-1])


def _restart_under_load(fleet: Fleet) -> None:
    graceful, killed = fleet.replicas[0], fleet.replicas[1]
    assert graceful.terminate(timeout=90) == 0
    graceful.start()
    fleet.wait_ready(graceful)
    killed.kill()
    killed.start()
    fleet.wait_ready(killed)
    # Both served again after their restart (through nginx).
    for replica in (graceful, killed):
        deadline = time.monotonic() + 120
        while "POST /api/" not in replica.logs[-1].read_text(errors="replace"):
            assert time.monotonic() < deadline, f"{replica.name} got no request after restart"
            time.sleep(0.2)


def _check_everything_arrived(fleet: Fleet, clients: list[Client]) -> None:
    api = TrackingClient(fleet.url)  # credentials from the environment (set by the test)
    experiment = api.get_experiment_by_name(EXPERIMENT)
    assert experiment is not None
    runs = api.search_runs([experiment.experiment_id], max_results=1000)
    assert sorted(r.info.run_id for r in runs) == sorted(c.run_id for c in clients)
    by_id = {r.info.run_id: r for r in runs}
    for client in clients:
        run = by_id[client.run_id]
        assert run.info.status == "FINISHED", client.name
        assert run.data.params == {
            "client": client.name,
            "kind": client.kind,
            "seed": str(client.seed),
        }
        assert run.data.tags["fleet"] == client.name
        steps = range(client.steps)
        loss = [(m.step, m.value) for m in api.get_metric_history(client.run_id, "loss")]
        assert loss == [(s, client.seed * 1e6 + s) for s in steps], client.name
        acc = [(m.step, m.value) for m in api.get_metric_history(client.run_id, "acc")]
        assert acc == [(s, -float(s)) for s in steps], client.name
        if client.kind == "mlflow":
            single = [(m.step, m.value) for m in api.get_metric_history(client.run_id, "single")]
            assert single == [(s, float(s)) for s in steps if s % 10 == 0], client.name
        listed = {f.path for f in api.list_artifacts(client.run_id)}
        assert listed == {f"{client.name}.txt", "notes"}, client.name
        root = api.download_artifacts(client.run_id, "", str(fleet.workdir / "check" / client.name))
        assert Path(root, f"{client.name}.txt").read_text() == f"{client.name}\n" * 5000
        assert Path(root, "notes", "hello.txt").read_text() == f"hello {client.name}"


def _bucket_keys(fleet: Fleet) -> list[str]:
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=fleet.env["MLTRAIL_S3_ENDPOINT_URL"],
        aws_access_key_id=fleet.env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=fleet.env["AWS_SECRET_ACCESS_KEY"],
        region_name=fleet.env["AWS_DEFAULT_REGION"],
    )
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=fleet.bucket):
        keys.extend(obj["Key"] for obj in page.get("Contents", []))
    return sorted(keys)


def test_replicas_stopped_and_killed_under_load_lose_and_double_nothing(
    fleet_factory: FleetFactory,
    mlflow_python: Path,  # noqa: F811  (the fixture imported above)
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MLTRAIL_TRACKING_USERNAME", ADMIN)
    monkeypatch.setenv("MLTRAIL_TRACKING_PASSWORD", ADMIN_PASSWORD)
    fleet = fleet_factory(workers=[1, 2, 1])
    with fleet.admin() as admin:
        created = admin.post("/api/v1/experiments", json={"name": EXPERIMENT})
        assert created.status_code in (200, 201), created.text
    stop = tmp_path / "stop-logging"
    clients = _start_clients(fleet, mlflow_python, tmp_path / "clients", stop)
    try:
        _wait_started(clients)
        _restart_under_load(fleet)
        stop.touch()
        _finish(clients)
    finally:
        for client in clients:
            if client.process.poll() is None:
                client.process.kill()
    # Nothing went to the offline spool: every failure was retried until it went through.
    spool = tmp_path / "clients" / "spool"
    assert not spool.exists() or not any(p.is_file() for p in spool.rglob("*.db*")), list(
        spool.rglob("*")
    )
    print("steps per client:", {c.name: c.steps for c in clients})
    _check_everything_arrived(fleet, clients)
    # Two objects per run in the bucket, nothing half-written.
    keys = _bucket_keys(fleet)
    assert len(keys) == 2 * len(clients), keys
    assert all(k.endswith((".txt",)) for k in keys), keys
    for replica in fleet.replicas:
        assert "Traceback" not in replica.log(), replica.log()[-3000:]
