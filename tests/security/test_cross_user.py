"""User A against user B's experiments, runs, artifacts and models: not-found, nothing changes."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from .conftest import AuthServer

API = "/api/2.0/mlflow"


@pytest.fixture(scope="module")
def bobs(auth_server: AuthServer) -> dict[str, Any]:
    """Things user B (bob) owns."""
    bob = auth_server.client("bob")
    exp = bob.post(f"{API}/experiments/create", json={"name": "bob-secret"}).json()["experiment_id"]
    for i in range(7):
        bob.post(f"{API}/experiments/create", json={"name": f"bob-more-{i}"}).raise_for_status()
    run = bob.post(f"{API}/runs/create", json={"experiment_id": exp, "start_time": 1}).json()["run"]
    run_id = run["info"]["run_id"]
    bob.post(
        f"{API}/runs/log-metric",
        json={"run_id": run_id, "key": "loss", "value": 1.5, "timestamp": 1, "step": 0},
    ).raise_for_status()
    bob.post(
        f"{API}/runs/log-parameter", json={"run_id": run_id, "key": "lr", "value": "0.1"}
    ).raise_for_status()
    bob.put(
        f"/api/2.0/mlflow-artifacts/artifacts/{exp}/{run_id}/artifacts/secret.txt",
        content=b"top secret",
    ).raise_for_status()
    bob.post(f"{API}/registered-models/create", json={"name": "bob-model"}).raise_for_status()
    model = bob.post(f"{API}/logged-models", json={"experiment_id": exp, "name": "m"}).json()
    return {"exp": exp, "run": run_id, "model": model["model"]["info"]["model_id"]}


def _same_not_found(
    hidden: httpx.Response, missing: httpx.Response, hidden_id: str, missing_id: str
) -> None:
    assert hidden.status_code == missing.status_code == 404, (hidden.text, missing.text)
    assert hidden.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert hidden.json()["message"].replace(hidden_id, "X") == missing.json()["message"].replace(
        missing_id, "X"
    )


def test_reads_answer_not_found(auth_server: AuthServer, bobs: dict[str, Any]) -> None:
    alice = auth_server.client("alice")
    exp, run, model = bobs["exp"], bobs["run"], bobs["model"]
    _same_not_found(alice.get(f"{API}/experiments/get", params={"experiment_id": exp}),
                    alice.get(f"{API}/experiments/get", params={"experiment_id": "987654"}), exp, "987654")  # fmt: skip
    # By name, a hidden experiment is a permission problem (its name is all the answer tells,
    # as creating an experiment of that name would); a missing one is not found.
    hidden = alice.get(f"{API}/experiments/get-by-name", params={"experiment_name": "bob-secret"})
    missing = alice.get(f"{API}/experiments/get-by-name", params={"experiment_name": "nobody-s"})
    assert hidden.status_code == 403 and missing.status_code == 404, (hidden.text, missing.text)
    assert hidden.json()["error_code"] == "PERMISSION_DENIED"
    assert "'bob-secret' exists but is not shared with alice" in hidden.json()["message"]
    assert exp not in hidden.text and "bob" not in hidden.text.replace("bob-secret", "")
    ghost = "0" * 32
    _same_not_found(alice.get(f"{API}/runs/get", params={"run_id": run}),
                    alice.get(f"{API}/runs/get", params={"run_id": ghost}), run, ghost)  # fmt: skip
    _same_not_found(
        alice.get(f"{API}/metrics/get-history", params={"run_id": run, "metric_key": "loss"}),
        alice.get(f"{API}/metrics/get-history", params={"run_id": ghost, "metric_key": "loss"}),
        run, ghost,
    )  # fmt: skip
    _same_not_found(
        alice.get(f"/api/v1/runs/{run}"), alice.get(f"/api/v1/runs/{ghost}"), run, ghost
    )
    _same_not_found(
        alice.get(f"/api/v1/experiments/{exp}"),
        alice.get("/api/v1/experiments/987654"),
        exp,
        "987654",
    )
    art = alice.get(f"/api/2.0/mlflow-artifacts/artifacts/{exp}/{run}/artifacts/secret.txt")
    assert art.status_code == 404 and b"top secret" not in art.content
    listing = alice.get(
        "/api/2.0/mlflow-artifacts/artifacts", params={"path": f"{exp}/{run}/artifacts"}
    )
    assert listing.status_code == 404 or listing.json().get("files") in (None, [])
    root = alice.get("/api/2.0/mlflow-artifacts/artifacts").json()
    assert all(not f["path"].startswith(exp) for f in root.get("files", []))
    assert alice.get(f"{API}/artifacts/list", params={"run_id": run}).status_code == 404
    _same_not_found(
        alice.get(f"{API}/logged-models/{model}"),
        alice.get(f"{API}/logged-models/m-{'0' * 32}"),
        model,
        f"m-{'0' * 32}",
    )
    _same_not_found(
        alice.get(f"{API}/registered-models/get", params={"name": "bob-model"}),
        alice.get(f"{API}/registered-models/get", params={"name": "no-model"}),
        "bob-model", "no-model",
    )  # fmt: skip


@pytest.mark.parametrize("page_size", [1, 2, 3, 1000])
def test_search_pages_stay_full_and_hide_others(
    auth_server: AuthServer, bobs: dict[str, Any], page_size: int
) -> None:
    alice = auth_server.client("alice")
    bob = auth_server.client("bob")
    for i in range(3):
        alice.post(f"{API}/experiments/create", json={"name": f"alice-{page_size}-{i}"})
    for who, forbidden in ((alice, "bob-"), (bob, "alice-")):
        names: list[str] = []
        token = None
        while True:
            body: dict[str, Any] = {"max_results": page_size}
            if token:
                body["page_token"] = token
            page = who.post(f"{API}/experiments/search", json=body).json()
            got = [e["name"] for e in page.get("experiments", [])]
            token = page.get("next_page_token")
            if token:
                assert len(got) == page_size
            names += got
            if not token:
                break
        assert names and not any(n.startswith(forbidden) for n in names)
    runs = alice.post(f"{API}/runs/search", json={"experiment_ids": [bobs["exp"]]}).json()
    assert runs.get("runs", []) == []
    models = alice.get(f"{API}/registered-models/search").json()
    assert all(m["name"] != "bob-model" for m in models.get("registered_models", []))
    versions = alice.get(f"{API}/model-versions/search").json()
    assert all(v["name"] != "bob-model" for v in versions.get("model_versions", []))
    logged = alice.post(
        f"{API}/logged-models/search", json={"experiment_ids": [bobs["exp"]]}
    ).json()
    assert logged.get("models", []) == []


def test_writes_change_nothing(auth_server: AuthServer, bobs: dict[str, Any]) -> None:
    alice = auth_server.client("alice")
    bob = auth_server.client("bob")
    exp, run, model = bobs["exp"], bobs["run"], bobs["model"]
    mine = alice.post(
        f"{API}/experiments/create", json={"name": f"alice-own-{time.time()}"}
    ).json()["experiment_id"]
    attempts = [
        ("POST", f"{API}/experiments/update", {"experiment_id": exp, "new_name": "stolen"}),
        ("POST", f"{API}/experiments/delete", {"experiment_id": exp}),
        (
            "POST",
            f"{API}/experiments/set-experiment-tag",
            {"experiment_id": exp, "key": "k", "value": "v"},
        ),
        ("POST", f"{API}/runs/create", {"experiment_id": exp}),
        (
            "POST",
            f"{API}/runs/log-metric",
            {"run_id": run, "key": "loss", "value": 9, "timestamp": 2, "step": 1},
        ),
        ("POST", f"{API}/runs/log-batch", {"run_id": run, "params": [{"key": "x", "value": "1"}]}),
        ("POST", f"{API}/runs/set-tag", {"run_id": run, "key": "k", "value": "v"}),
        ("POST", f"{API}/runs/update", {"run_id": run, "status": "FAILED"}),
        ("POST", f"{API}/runs/delete", {"run_id": run}),
        ("PATCH", f"{API}/logged-models/{model}/tags", {"tags": [{"key": "k", "value": "v"}]}),
        ("DELETE", f"{API}/logged-models/{model}", None),
        ("POST", f"{API}/registered-models/rename", {"name": "bob-model", "new_name": "mine"}),
        ("DELETE", f"{API}/registered-models/delete", {"name": "bob-model"}),
        (
            "POST",
            f"{API}/model-versions/create",
            {"name": "bob-model", "source": f"runs:/{run}/model"},
        ),
        ("PATCH", "/api/v1/experiments/" + exp, {"name": "stolen"}),
        ("DELETE", f"/api/v1/runs/{run}", None),
        (
            "POST",
            f"/api/v1/runs/{run}/batch",
            {"metrics": [{"key": "loss", "value": 3, "step": 5, "timestamp": 5}]},
        ),
        ("DELETE", f"/api/2.0/mlflow-artifacts/artifacts/{exp}/{run}/artifacts/secret.txt", None),
    ]
    for method, path, body in attempts:
        answer = alice.request(method, path, json=body)
        assert answer.status_code == 404, (method, path, answer.status_code, answer.text)
    # Mismatched ids: alice's experiment with bob's run id never reaches bob's run.
    other = alice.post(f"{API}/runs/create", json={"experiment_id": mine, "run_id": run})
    assert other.status_code in (200, 404) and run not in other.text
    upload = alice.put(
        f"/api/2.0/mlflow-artifacts/artifacts/{exp}/{run}/artifacts/secret.txt", content=b"pwned"
    )
    assert upload.status_code == 404
    # Nothing changed.
    got = bob.get(f"{API}/runs/get", params={"run_id": run}).json()["run"]
    assert got["info"]["status"] == "RUNNING" and got["info"]["lifecycle_stage"] == "active"
    assert [m["value"] for m in got["data"]["metrics"]] == [1.5]
    assert {p["key"] for p in got["data"]["params"]} == {"lr"}
    assert "tags" not in got["data"] or all(t["key"] != "k" for t in got["data"]["tags"])
    assert (
        bob.get(f"{API}/experiments/get", params={"experiment_id": exp}).json()["experiment"][
            "name"
        ]
        == "bob-secret"
    )
    assert (
        bob.get(f"/api/2.0/mlflow-artifacts/artifacts/{exp}/{run}/artifacts/secret.txt").content
        == b"top secret"
    )
    assert bob.get(f"{API}/registered-models/get", params={"name": "bob-model"}).status_code == 200
    assert bob.get(f"{API}/logged-models/{model}").status_code == 200


def test_grants_self_granting_and_admin_routes(
    auth_server: AuthServer, bobs: dict[str, Any]
) -> None:
    alice = auth_server.client("alice")
    bob = auth_server.client("bob")
    admin = auth_server.client("admin")
    exp = bobs["exp"]
    grant = {"experiment_id": exp, "username": "alice", "permission": "MANAGE"}
    assert alice.post(f"{API}/experiments/permissions/create", json=grant).status_code == 404
    assert (
        alice.put(
            f"/api/v1/permissions/experiments/{exp}",
            json={"username": "alice", "permission": "MANAGE"},
        ).status_code
        == 404
    )
    assert (
        alice.post(
            f"{API}/users/create", json={"username": "evil", "password": "x" * 20}
        ).status_code
        == 403
    )
    assert (
        alice.patch(
            f"{API}/users/update-admin", json={"username": "alice", "is_admin": True}
        ).status_code
        == 403
    )
    assert alice.patch("/api/v1/users/alice", json={"is_admin": True}).status_code == 403
    assert (
        alice.patch(
            f"{API}/users/update-password", json={"username": "bob", "password": "y" * 20}
        ).status_code
        == 403
    )
    assert alice.get("/api/v1/users").status_code == 403
    assert alice.get(f"{API}/users/get", params={"username": "bob"}).status_code == 403
    # Bob grants READ: alice may read, still not write or grant.
    made = bob.post(f"{API}/experiments/permissions/create", json={**grant, "permission": "READ"})
    assert made.status_code == 200 and made.json()["experiment_permission"]["permission"] == "READ"
    assert alice.get(f"{API}/experiments/get", params={"experiment_id": exp}).status_code == 200
    assert (
        alice.post(
            f"{API}/experiments/update", json={"experiment_id": exp, "new_name": "x"}
        ).status_code
        == 403
    )
    assert alice.patch(f"{API}/experiments/permissions/update", json=grant).status_code == 403
    assert (
        bob.request(
            "DELETE",
            f"{API}/experiments/permissions/delete",
            json={"experiment_id": exp, "username": "alice"},
        ).status_code
        == 200
    )
    assert alice.get(f"{API}/experiments/get", params={"experiment_id": exp}).status_code == 404
    # Admins see everything.
    assert admin.get(f"{API}/experiments/get", params={"experiment_id": exp}).status_code == 200
    assert (
        admin.get(f"{API}/users/get", params={"username": "bob"}).json()["user"]["username"]
        == "bob"
    )
