"""A second user runs the team's unmodified mlflow script on a server with authentication.

Found as: alice's script works; bob running the same script got "No Experiment with id=0
exists" (no experiment named) and "Experiment already exists" (set_experiment on alice's
experiment). Now the Default experiment works for everyone, a hidden experiment is a
permission error naming who can share it, and a group grant or the "everyone signed in"
switch lets bob in.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from security.conftest import PASSWORDS, AuthServer, start_auth_server

SCRIPT = """
import json, sys
import mlflow
from mlflow.exceptions import MlflowException

experiment = sys.argv[1] if len(sys.argv) > 1 else None
out = {}
try:
    if experiment:
        mlflow.set_experiment(experiment)
    with mlflow.start_run() as run:
        mlflow.log_param("alpha", 0.5)
        mlflow.log_metric("rmse", 0.25)
    out["run"] = run.info.run_id
    out["experiment_id"] = run.info.experiment_id
except MlflowException as exc:
    out["error_code"] = exc.error_code
    out["message"] = exc.message
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def team_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthServer]:
    server, proc = start_auth_server(tmp_path_factory.mktemp("team-server"))
    try:
        yield server
    finally:
        server.close_clients()
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def _run_as(
    server: AuthServer, user: str, mlflow_python: Path, tmp_path: Path, *args: str
) -> dict[str, Any]:
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(SCRIPT))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "MLTRAIL_"))}
    env.update(
        MLFLOW_TRACKING_URI=server.url,
        MLFLOW_TRACKING_USERNAME=user,
        MLFLOW_TRACKING_PASSWORD=PASSWORDS[user],
        MLFLOW_HTTP_REQUEST_MAX_RETRIES="0",
        GIT_PYTHON_REFRESH="quiet",
    )
    done = subprocess.run(
        [str(mlflow_python), str(script), *args],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_second_user_on_a_shared_experiment(
    team_server: AuthServer, mlflow_python: Path, tmp_path: Path
) -> None:
    # A script that names no experiment logs to the Default one, for every user.
    for user in ("alice", "bob"):
        default = _run_as(team_server, user, mlflow_python, tmp_path)
        assert default.get("experiment_id") == "0", default

    mine = _run_as(team_server, "alice", mlflow_python, tmp_path, "churn")
    assert "run" in mine, mine
    theirs = _run_as(team_server, "bob", mlflow_python, tmp_path, "churn")
    assert theirs.get("error_code") == "PERMISSION_DENIED", theirs
    assert "'churn' exists but is not shared with bob" in theirs["message"]
    assert "MANAGE permission on it, or an admin" in theirs["message"]
    assert mine["experiment_id"] not in theirs["message"]

    # An admin makes a group; alice (MANAGE, as creator) shares churn with it.
    admin = team_server.client("admin")
    admin.post("/api/v1/groups", json={"name": "ds-team"}).raise_for_status()
    admin.put("/api/v1/groups/ds-team/members/bob").raise_for_status()
    alice = team_server.client("alice")
    shared = alice.put(
        f"/api/v1/permissions/experiments/{mine['experiment_id']}",
        json={"group": "ds-team", "permission": "EDIT"},
    )
    assert shared.status_code == 200, shared.text
    again = _run_as(team_server, "bob", mlflow_python, tmp_path, "churn")
    assert again.get("experiment_id") == mine["experiment_id"], again
    runs = alice.post(
        "/api/2.0/mlflow/runs/search", json={"experiment_ids": [mine["experiment_id"]]}
    ).json()["runs"]
    assert {r["info"]["run_id"] for r in runs} == {mine["run"], again["run"]}


def test_everyone_signed_in_may_read(
    team_server: AuthServer, mlflow_python: Path, tmp_path: Path
) -> None:
    alice = team_server.client("alice")
    made = _run_as(team_server, "alice", mlflow_python, tmp_path, "baseline")
    experiment_id = made["experiment_id"]
    switch = alice.put(
        f"/api/v1/permissions/experiments/{experiment_id}/signed-in", json={"permission": "READ"}
    )
    assert switch.status_code == 200, switch.text
    bob = team_server.client("bob")
    found = bob.get(
        "/api/2.0/mlflow/experiments/get-by-name", params={"experiment_name": "baseline"}
    )
    assert found.status_code == 200, found.text
    refused = _run_as(team_server, "bob", mlflow_python, tmp_path, "baseline")
    assert refused.get("error_code") == "PERMISSION_DENIED", refused
    assert "bob has READ on experiment 'baseline'" in refused["message"]
    assert "needs EDIT" in refused["message"]
    # The sharing summary tells the truth about who may do what.
    summary = alice.get(f"/api/v1/permissions/experiments/{experiment_id}").json()
    assert summary["signed_in_permission"] == "READ"
    assert summary["default_permission"] == "NONE" and summary["others_permission"] == "READ"
    assert [(p["username"], p["permission"]) for p in summary["permissions"]] == [
        ("alice", "MANAGE")
    ]
    assert (
        httpx.get(f"{team_server.url}/api/v1/permissions/experiments/{experiment_id}").status_code
        == 401
    )
