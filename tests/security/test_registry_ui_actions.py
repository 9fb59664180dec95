"""The dashboard's registry actions under authentication: the MLflow API's permission checks
apply (hidden answers like missing, READ cannot change, EDIT cannot delete), a form without
the CSRF token or from another site is refused, and registering needs READ on the source."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from .browser import csrf, error_message, sign_in
from .conftest import AuthServer

API = "/api/2.0/mlflow"
MODEL = "alice-ui-model"


@pytest.fixture(scope="module")
def alices(auth_server: AuthServer) -> dict[str, Any]:
    alice = auth_server.client("alice")
    exp = alice.post(f"{API}/experiments/create", json={"name": "alice-ui-registry"}).json()
    run = alice.post(f"{API}/runs/create", json={"experiment_id": exp["experiment_id"]}).json()
    run_id = run["run"]["info"]["run_id"]
    alice.post(f"{API}/registered-models/create", json={"name": MODEL}).raise_for_status()
    alice.post(
        f"{API}/model-versions/create",
        json={"name": MODEL, "source": f"runs:/{run_id}/model", "run_id": run_id},
    ).raise_for_status()
    return {"experiment_id": exp["experiment_id"], "run_id": run_id}


def _post(browser: httpx.Client, path: str, *, token: bool = True, **fields: str) -> httpx.Response:
    data = {"csrf_token": csrf(browser)} if token else {}
    return browser.post(path, data={**data, **fields}, headers={"Accept": "text/html"})


def _alias(auth_server: AuthServer) -> dict[str, int]:
    found = auth_server.client("alice").get(f"{API}/registered-models/get", params={"name": MODEL})
    return {
        a["alias"]: int(a["version"]) for a in found.json()["registered_model"].get("aliases", [])
    }


def test_permissions_apply_to_dashboard_registry_actions(
    auth_server: AuthServer, alices: dict[str, Any]
) -> None:
    bob = sign_in(auth_server, "bob")
    base = f"/models/{MODEL}"
    # Hidden: every action answers like a missing model.
    for path, fields in [
        (f"{base}/aliases", {"alias": "prod", "version": "1"}),
        (f"{base}/tags", {"key": "k", "value": "v"}),
        (f"{base}/description", {"description": "mine now"}),
        (f"{base}/versions/1/stage", {"stage": "Archived"}),
        (f"{base}/delete", {}),
    ]:
        answer = _post(bob, path, **fields)
        assert answer.status_code == 404, (path, answer.status_code)
    # Registering alice's run under a model of bob's: the run answers like a missing one.
    stolen = _post(
        bob,
        "/models/register",
        name="bobs-copy",
        source=f"runs:/{alices['run_id']}/model",
        run_id=alices["run_id"],
    )
    assert stolen.status_code == 404 and "not found" in error_message(stolen)

    alice = auth_server.client("alice")
    alice.put(
        f"/api/v1/permissions/registered-models/{MODEL}",
        json={"username": "bob", "permission": "READ"},
    ).raise_for_status()
    refused = _post(bob, f"{base}/aliases", alias="prod", version="1")
    assert refused.status_code == 403
    assert "bob has READ on registered model" in error_message(refused)
    alice.put(
        f"/api/v1/permissions/registered-models/{MODEL}",
        json={"username": "bob", "permission": "EDIT"},
    ).raise_for_status()
    done = _post(bob, f"{base}/aliases", alias="prod", version="1")
    assert done.status_code == 303, error_message(done)
    assert _alias(auth_server) == {"prod": 1}
    # EDIT may change, not delete.
    assert _post(bob, f"{base}/versions/1/delete").status_code == 403
    assert _post(bob, f"{base}/delete").status_code == 403


def test_csrf_and_cross_site_forms_are_refused(
    auth_server: AuthServer, alices: dict[str, Any]
) -> None:
    alice = sign_in(auth_server, "alice")
    base = f"/models/{MODEL}"
    without = _post(alice, f"{base}/aliases", token=False, alias="sneaky", version="1")
    assert without.status_code == 403
    cross = alice.post(
        f"{base}/aliases",
        data={"csrf_token": csrf(alice), "alias": "sneaky", "version": "1"},
        headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
    )
    assert cross.status_code == 403
    assert "sneaky" not in _alias(auth_server)
    ok = _post(alice, f"{base}/aliases", alias="champion", version="1")
    assert ok.status_code == 303 and _alias(auth_server)["champion"] == 1
