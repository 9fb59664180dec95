"""Model-version routes of the MLflow API, user B against user A's registered model, level by level.

Without a grant every route answers exactly like a model that does not exist; with READ the
reads work and changes are 403; EDIT allows updates, tags and aliases; deleting a version
or an alias needs MANAGE.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from .conftest import AuthServer

API = "/api/2.0/mlflow"
MODEL = "alice-registry-model"
GHOST = "no-such-model-anywhere"

Call = Callable[[httpx.Client, str], httpx.Response]


def _json(method: str, path: str, **body: object) -> Call:
    def call(client: httpx.Client, name: str) -> httpx.Response:
        return client.request(method, API + path, json={"name": name, **body})

    return call


def _query(path: str, **params: str) -> Call:
    def call(client: httpx.Client, name: str) -> httpx.Response:
        return client.get(API + path, params={"name": name, **params})

    return call


READS: dict[str, Call] = {
    "get": _query("/model-versions/get", version="1"),
    "download-uri": _query("/model-versions/get-download-uri", version="1"),
    "alias-get": _query("/registered-models/alias", alias="champion"),
    "latest": _json("POST", "/registered-models/get-latest-versions"),
}
EDITS: dict[str, Call] = {
    "update": _json("PATCH", "/model-versions/update", version="1", description="bob"),
    "set-tag": _json("POST", "/model-versions/set-tag", version="1", key="k", value="bob"),
    "delete-tag": _json("DELETE", "/model-versions/delete-tag", version="1", key="t"),
    "set-alias": _json("POST", "/registered-models/alias", alias="bobs", version="1"),
    # A version of the model itself: a source Bob may read once he may edit the model.
    "create": _json("POST", "/model-versions/create", source=f"models:/{MODEL}/1"),
}
MANAGES: dict[str, Call] = {
    "delete-alias": _json("DELETE", "/registered-models/alias", alias="champion"),
    "delete": _json("DELETE", "/model-versions/delete", version="2"),
}


@pytest.fixture(scope="module")
def alice_model(auth_server: AuthServer) -> None:
    alice = auth_server.client("alice")
    alice.post(f"{API}/registered-models/create", json={"name": MODEL}).raise_for_status()
    created = alice.post(f"{API}/experiments/create", json={"name": "alice-registry-exp"})
    experiment_id = created.json()["experiment_id"]
    for _ in range(2):
        alice.post(
            f"{API}/model-versions/create",
            json={"name": MODEL, "source": f"mlflow-artifacts:/{experiment_id}/r/artifacts/model"},
        ).raise_for_status()
    alice.post(
        f"{API}/model-versions/set-tag",
        json={"name": MODEL, "version": "1", "key": "t", "value": "v"},
    ).raise_for_status()
    alice.post(
        f"{API}/registered-models/alias", json={"name": MODEL, "alias": "champion", "version": "1"}
    ).raise_for_status()


def _grant(server: AuthServer, level: str) -> None:
    server.client("alice").put(
        f"/api/v1/permissions/registered-models/{MODEL}",
        json={"username": "bob", "permission": level},
    ).raise_for_status()


def _versions(server: AuthServer) -> list[dict[str, object]]:
    found = server.client("admin").get(
        f"{API}/model-versions/search", params={"filter": f"name = '{MODEL}'"}
    )
    versions: list[dict[str, object]] = found.json().get("model_versions", [])
    return sorted(versions, key=lambda v: str(v["version"]))


@pytest.mark.usefixtures("alice_model")
def test_model_version_routes_level_by_level(auth_server: AuthServer) -> None:
    bob = auth_server.client("bob")
    before = _versions(auth_server)
    assert [v["version"] for v in before] == ["1", "2"]

    for name, call in {**READS, **EDITS, **MANAGES}.items():
        hidden, missing = call(bob, MODEL), call(bob, GHOST)
        assert hidden.status_code == missing.status_code == 404, (name, hidden.text)
        assert hidden.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
        assert hidden.json()["message"].replace(MODEL, "X") == missing.json()["message"].replace(
            GHOST, "X"
        ), name
    search = bob.get(f"{API}/model-versions/search", params={"filter": f"name = '{MODEL}'"})
    assert search.status_code == 200 and search.json().get("model_versions", []) == []
    assert _versions(auth_server) == before

    _grant(auth_server, "READ")
    for name, call in READS.items():
        assert call(bob, MODEL).status_code == 200, name
    assert bob.get(f"{API}/model-versions/get-download-uri", params={"name": MODEL, "version": "1"}).json()["artifact_uri"]  # fmt: skip
    found = bob.get(f"{API}/model-versions/search", params={"filter": f"name = '{MODEL}'"})
    assert len(found.json()["model_versions"]) == 2
    for name, call in {**EDITS, **MANAGES}.items():
        answer = call(bob, MODEL)
        assert answer.status_code == 403, (name, answer.text)
        assert answer.json()["error_code"] == "PERMISSION_DENIED"
    assert _versions(auth_server) == before

    _grant(auth_server, "EDIT")
    for name, call in EDITS.items():
        assert call(bob, MODEL).status_code == 200, name
    version_1 = bob.get(f"{API}/model-versions/get", params={"name": MODEL, "version": "1"}).json()
    assert version_1["model_version"]["description"] == "bob"
    assert {"key": "k", "value": "bob"} in version_1["model_version"]["tags"]
    for name, call in MANAGES.items():
        assert call(bob, MODEL).status_code == 403, name
    assert len(_versions(auth_server)) == 3  # bob's "create" made version 3

    _grant(auth_server, "MANAGE")
    for name, call in MANAGES.items():
        assert call(bob, MODEL).status_code == 200, name
    assert [v["version"] for v in _versions(auth_server)] == ["1", "3"]
    alias = bob.get(f"{API}/registered-models/alias", params={"name": MODEL, "alias": "champion"})
    assert alias.status_code == 404
