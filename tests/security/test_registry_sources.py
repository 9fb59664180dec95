"""Registering a model version needs READ on what its source names, not only EDIT on the model.

Bob may edit his own registered model. He tries to register Alice's logged model, run
folder, proxied artifact path and registered version as versions of it, through the
MLflow route, the native route and the mltrail client: each answers exactly like a
source that does not exist, nothing is created and Alice's logged model is untouched.
His own sources register normally.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from .conftest import PASSWORDS, AuthServer

API = "/api/2.0/mlflow"
BOB_MODEL = "bob-own-model"
ALICE_MODEL = "alice-private-model"


@dataclass(frozen=True)
class Owned:
    experiment_id: str
    run_id: str
    artifact_uri: str
    model_id: str


def _ok(answer: httpx.Response) -> dict[str, Any]:
    assert answer.status_code in (200, 201), answer.text
    found: dict[str, Any] = answer.json()
    return found


def _own_things(client: httpx.Client, label: str) -> Owned:
    experiment_id = _ok(client.post(f"{API}/experiments/create", json={"name": f"{label}-exp"}))[
        "experiment_id"
    ]
    run = _ok(client.post(f"{API}/runs/create", json={"experiment_id": experiment_id}))["run"]
    run_id, artifact_uri = run["info"]["run_id"], run["info"]["artifact_uri"]
    folder = artifact_uri.split("mlflow-artifacts:/", 1)[1].strip("/")
    _ok(
        client.put(
            f"/api/2.0/mlflow-artifacts/artifacts/{folder}/model/MLmodel",
            content=b"flavors: {}\n",
        )
    )
    model = _ok(
        client.post(
            f"{API}/logged-models",
            json={"experiment_id": experiment_id, "name": "model", "source_run_id": run_id},
        )
    )["model"]
    return Owned(experiment_id, run_id, artifact_uri, model["info"]["model_id"])


@pytest.fixture(scope="module")
def owned(auth_server: AuthServer) -> dict[str, Owned]:
    alice, bob = auth_server.client("alice"), auth_server.client("bob")
    things = {"alice": _own_things(alice, "alice"), "bob": _own_things(bob, "bob")}
    _ok(alice.post(f"{API}/registered-models/create", json={"name": ALICE_MODEL}))
    _ok(
        alice.post(
            f"{API}/model-versions/create",
            json={"name": ALICE_MODEL, "source": f"models:/{things['alice'].model_id}"},
        )
    )
    _ok(
        alice.post(
            f"{API}/registered-models/alias",
            json={"name": ALICE_MODEL, "alias": "champion", "version": "1"},
        )
    )
    _ok(bob.post(f"{API}/registered-models/create", json={"name": BOB_MODEL}))
    return things


def _hostile(alice: Owned, bob: Owned) -> dict[str, tuple[dict[str, str], dict[str, str], str]]:
    """Per attempt: the body naming Alice's thing, the same body naming a missing one, and the
    text that differs between the two."""
    ghost_model = f"m-{uuid.uuid4().hex}"
    ghost_run = uuid.uuid4().hex
    own = f"{bob.artifact_uri}/model"
    return {
        "logged model": (
            {"source": f"models:/{alice.model_id}"},
            {"source": f"models:/{ghost_model}"},
            alice.model_id + "|" + ghost_model,
        ),
        "run folder": (
            {"source": f"runs:/{alice.run_id}/model"},
            {"source": f"runs:/{ghost_run}/model"},
            alice.run_id + "|" + ghost_run,
        ),
        "artifact path": (
            {"source": f"{alice.artifact_uri}/model"},
            {"source": "mlflow-artifacts:/987654/x/artifacts/model"},
            f"{alice.experiment_id}|987654",
        ),
        "registered version": (
            {"source": f"models:/{ALICE_MODEL}/1"},
            {"source": "models:/no-such-registered-model/1"},
            f"{ALICE_MODEL}|no-such-registered-model",
        ),
        "alias": (
            {"source": f"models:/{ALICE_MODEL}@champion"},
            {"source": "models:/no-such-registered-model@champion"},
            f"{ALICE_MODEL}|no-such-registered-model",
        ),
        "model_id field": (
            {"source": own, "model_id": alice.model_id},
            {"source": own, "model_id": ghost_model},
            alice.model_id + "|" + ghost_model,
        ),
        "run_id field": (
            {"source": own, "run_id": alice.run_id},
            {"source": own, "run_id": ghost_run},
            alice.run_id + "|" + ghost_run,
        ),
    }


def _masked(message: str, differing: str) -> str:
    for text in differing.split("|"):
        message = message.replace(text, "X")
    return message


def _versions(server: AuthServer, name: str) -> list[str]:
    found = server.client("admin").get(
        f"{API}/model-versions/search", params={"filter": f"name = '{name}'"}
    )
    return sorted(str(v["version"]) for v in found.json().get("model_versions", []))


def _mlflow_create(client: httpx.Client, body: dict[str, str]) -> httpx.Response:
    return client.post(f"{API}/model-versions/create", json={"name": BOB_MODEL, **body})


def _native_create(client: httpx.Client, body: dict[str, str]) -> httpx.Response:
    return client.post(f"/api/v1/registered-models/{BOB_MODEL}/versions", json=body)


@pytest.mark.parametrize("route", [_mlflow_create, _native_create], ids=["mlflow", "native"])
def test_someone_elses_source_is_not_found(
    auth_server: AuthServer, owned: dict[str, Owned], route: Any
) -> None:
    bob = auth_server.client("bob")
    before = _versions(auth_server, BOB_MODEL)
    for what, (hidden_body, missing_body, differing) in _hostile(
        owned["alice"], owned["bob"]
    ).items():
        hidden, missing = route(bob, hidden_body), route(bob, missing_body)
        assert hidden.status_code == missing.status_code == 404, (what, hidden.text)
        assert hidden.json()["error_code"] == missing.json()["error_code"]
        assert hidden.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
        assert _masked(hidden.json()["message"], differing) == _masked(
            missing.json()["message"], differing
        ), what
    assert _versions(auth_server, BOB_MODEL) == before
    tags = auth_server.client("alice").get(f"{API}/logged-models/{owned['alice'].model_id}")
    versions_tag = [
        t["value"] for t in _ok(tags)["model"]["info"].get("tags", [])
        if t["key"] == "mlflow.modelVersions"
    ]  # fmt: skip
    assert all(BOB_MODEL not in value for value in versions_tag)


@pytest.mark.parametrize("route", [_mlflow_create, _native_create], ids=["mlflow", "native"])
def test_own_sources_register(auth_server: AuthServer, owned: dict[str, Owned], route: Any) -> None:
    bob, mine = auth_server.client("bob"), owned["bob"]
    before = len(_versions(auth_server, BOB_MODEL))
    sources = [
        {"source": f"models:/{mine.model_id}"},
        {"source": f"runs:/{mine.run_id}/model"},
        {"source": f"{mine.artifact_uri}/model"},
        {"source": f"models:/{BOB_MODEL}/1"},
        {"source": f"{mine.artifact_uri}/model", "run_id": mine.run_id},
    ]
    for body in sources:
        assert route(bob, body).status_code in (200, 201), body
    assert len(_versions(auth_server, BOB_MODEL)) == before + len(sources)


def test_raw_storage_uri_is_for_admins(auth_server: AuthServer, owned: dict[str, Owned]) -> None:
    bob = auth_server.client("bob")
    before = _versions(auth_server, BOB_MODEL)
    for raw in ("s3://some-bucket/models/churn", "file:///etc", "/srv/models/churn"):
        answer = _mlflow_create(bob, {"source": raw})
        assert answer.status_code == 403, answer.text
        assert answer.json()["error_code"] == "PERMISSION_DENIED"
        assert "only admins" in answer.json()["message"]
        assert "runs:/<run_id>/<path>" in answer.json()["message"]
    # Bob's own run folder given as its plain location, with the run id, is his to register.
    assert _versions(auth_server, BOB_MODEL) == before
    admin = auth_server.client("admin")
    # Admins may register raw URIs, but only inside the server's artifact roots.
    outside = _mlflow_create(admin, {"source": "s3://some-bucket/models/churn"})
    assert outside.status_code == 400, outside.text
    inside = str(auth_server.tmp_path / "artifacts" / "models" / "churn")
    assert _mlflow_create(admin, {"source": inside}).status_code == 200


def test_mltrail_client_cannot_register_someone_elses_source(
    auth_server: AuthServer, owned: dict[str, Owned]
) -> None:
    alice, mine = owned["alice"], owned["bob"]
    before = _versions(auth_server, BOB_MODEL)
    code = f"""
    import json
    import mltrail
    from mltrail.errors import MltrailError

    def attempt(call):
        try:
            return call().version
        except MltrailError as exc:
            return exc.code

    client = mltrail.TrackingClient()
    print(json.dumps({{
        "logged": attempt(lambda: mltrail.register_model("models:/{alice.model_id}", "{BOB_MODEL}")),
        "run": attempt(lambda: mltrail.register_model("runs:/{alice.run_id}/model", "{BOB_MODEL}")),
        "path": attempt(lambda: mltrail.register_model("{alice.artifact_uri}/model", "{BOB_MODEL}")),
        "version": attempt(lambda: mltrail.register_model("models:/{ALICE_MODEL}/1", "{BOB_MODEL}")),
        "run_id": attempt(lambda: client.create_model_version(
            "{BOB_MODEL}", "{mine.artifact_uri}/model", run_id="{alice.run_id}")),
        "own": attempt(lambda: mltrail.register_model("models:/{mine.model_id}", "{BOB_MODEL}")),
    }}))
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLTRAIL_", "MLFLOW_"))}
    env.update(
        MLTRAIL_TRACKING_URI=auth_server.url,
        MLTRAIL_TRACKING_USERNAME="bob",
        MLTRAIL_TRACKING_PASSWORD=PASSWORDS["bob"],
        MLTRAIL_HTTP_MAX_RETRIES="0",
    )
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    answers = json.loads(done.stdout.strip().splitlines()[-1])
    not_found = "RESOURCE_DOES_NOT_EXIST"
    own = answers.pop("own")
    assert answers == {k: not_found for k in ("logged", "run", "path", "version", "run_id")}
    assert isinstance(own, int)
    assert _versions(auth_server, BOB_MODEL) == sorted([*before, str(own)])


def test_taken_names_say_only_already_exists(
    auth_server: AuthServer, owned: dict[str, Owned]
) -> None:
    """Names are global, so a name Bob cannot see is still taken; the answer says no more."""
    bob = auth_server.client("bob")
    alice = owned["alice"]
    # An experiment's name that is taken but hidden is a permission problem (and says so).
    taken = bob.post(f"{API}/experiments/create", json={"name": "alice-exp"})
    assert taken.json()["error_code"] == "PERMISSION_DENIED", taken.text
    assert "'alice-exp' exists but is not shared with bob" in taken.json()["message"]
    for secret in ("alice", alice.experiment_id, alice.model_id, alice.run_id):
        assert secret not in taken.text.replace("alice-exp", "")
    attempts = {
        "registered model": (
            bob.post(f"{API}/registered-models/create", json={"name": ALICE_MODEL}),
            f"Registered Model (name={ALICE_MODEL}) already exists.",
        ),
        "rename": (
            bob.post(
                f"{API}/registered-models/rename",
                json={"name": BOB_MODEL, "new_name": ALICE_MODEL},
            ),
            f"Registered Model (name={ALICE_MODEL}) already exists.",
        ),
        "native": (
            bob.post("/api/v1/registered-models", json={"name": ALICE_MODEL}),
            f"Registered Model (name={ALICE_MODEL}) already exists.",
        ),
    }
    for what, (answer, message) in attempts.items():
        assert answer.json()["error_code"] == "RESOURCE_ALREADY_EXISTS", (what, answer.text)
        assert answer.json()["message"] == message, what
        for secret in ("alice", alice.experiment_id, alice.model_id, alice.run_id):
            assert secret not in answer.text.replace("alice-exp", "").replace(ALICE_MODEL, "")
    # The taken name shows nothing else: the model is still hidden from Bob.
    hidden = bob.get(f"{API}/registered-models/get", params={"name": ALICE_MODEL})
    assert hidden.status_code == 404


def test_model_reader_sees_the_version_but_downloads_only_readable_files(
    auth_server: AuthServer, owned: dict[str, Owned]
) -> None:
    alice, bob = auth_server.client("alice"), auth_server.client("bob")
    query = {"name": ALICE_MODEL, "version": "1"}
    uri = _ok(alice.get(f"{API}/model-versions/get-download-uri", params=query))["artifact_uri"]
    path = uri.split("mlflow-artifacts:/", 1)[1].strip("/") + "/MLmodel"
    files = "/api/2.0/mlflow-artifacts/artifacts/"
    _ok(alice.put(files + path, content=b"flavors: {}\n"))
    grants = f"/api/v1/permissions/registered-models/{ALICE_MODEL}"
    _ok(alice.put(grants, json={"username": "bob", "permission": "READ"}))
    try:
        seen = bob.get(f"{API}/model-versions/get-download-uri", params=query)
        assert seen.status_code == 200 and seen.json()["artifact_uri"] == uri
        assert bob.get(files + path).status_code == 404
        assert alice.get(files + path).content == b"flavors: {}\n"
    finally:
        alice.delete(f"{grants}/bob").raise_for_status()


def test_only_admins_choose_an_experiment_artifact_location(
    auth_server: AuthServer, owned: dict[str, Owned]
) -> None:
    """A chosen location could point into Alice's folder (then registered from Bob's own run)
    or at the server's files, which the dashboard reads for a run's artifacts."""
    bob, admin = auth_server.client("bob"), auth_server.client("admin")
    for location in (f"mlflow-artifacts:/{owned['alice'].experiment_id}/", "file:///etc"):
        answer = bob.post(
            f"{API}/experiments/create",
            json={"name": f"bob-points-{uuid.uuid4().hex[:8]}", "artifact_location": location},
        )
        assert answer.status_code == 403, answer.text
        assert "only admins may choose an experiment's artifact location" in answer.text
    native = bob.post(
        "/api/v1/experiments", json={"name": "bob-native-points", "artifact_location": "/etc"}
    )
    assert native.status_code == 403, native.text
    names = [e["name"] for e in _ok(admin.get(f"{API}/experiments/search"))["experiments"]]
    assert not [n for n in names if n.startswith("bob-points-") or n == "bob-native-points"]
    # Without a location Bob's experiment is created; an admin may choose one.
    assert bob.post(f"{API}/experiments/create", json={"name": "bob-plain"}).status_code == 200
    chosen = admin.post(
        f"{API}/experiments/create",
        json={"name": "admin-chosen", "artifact_location": "mlflow-artifacts:/admin-chosen"},
    )
    assert chosen.status_code == 200, chosen.text
