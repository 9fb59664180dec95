"""Stored artifact locations and model sources on a --no-auth server: refused when they point
outside the server's configured roots, when stored and again when used."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from harness.servers import free_port as _free_port
from mltrail.client.tracking_client import TrackingClient

MLFLOW = "/api/2.0/mlflow"
TEAM_ROOT = "s3://team-bucket/root"


@dataclass
class Server:
    url: str
    store: Path
    root: Path  # the folder store's artifacts dir: the proxied destination

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30.0)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("stored-uris")
    store = tmp / "store"
    root = store / "artifacts"
    root.mkdir(parents=True)
    (root / "escape").symlink_to("/etc")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLTRAIL_")}
    command = [
        sys.executable, "-m", "mltrail", "server", "--no-auth", "--port", str(port),
        "--backend-store-uri", str(store), "--default-artifact-root", TEAM_ROOT,
    ]  # fmt: skip
    log = tmp / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(command, cwd=tmp, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(log.read_text())
            try:
                if httpx.get(f"{url}/health", timeout=1).text == "OK":
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        yield Server(url=url, store=store, root=root)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def _refused(server: Server) -> list[str]:
    root, root_uri = str(server.root), server.root.as_uri()
    return [
        "file:///etc",
        "/etc",
        "../x",
        f"{root}/../outside",
        f"{root_uri}/%2e%2e/outside",
        f"{root}/%2e%2e/outside",
        "mlflow-artifacts:/../x",
        "mlflow-artifacts:/%2e%2e/x",
        "mlflow-artifacts:/%252e%252e/x",
        "s3://some-other-bucket/x",
        f"{TEAM_ROOT}/../x",
        f"{TEAM_ROOT}x/y",
        f"{root_uri}/escape",  # a symlink out of the root
        f"{root}/escape/passwd",
    ]


def _accepted(server: Server) -> list[str]:
    tag = uuid.uuid4().hex[:8]
    return [
        f"{server.root.as_uri()}/inside-{tag}",
        f"{server.root}/plain-{tag}",
        f"mlflow-artifacts:/chosen-{tag}",
        f"{TEAM_ROOT}/team-{tag}",
    ]


def _assert_refused(answer: httpx.Response, location: str) -> None:
    assert answer.status_code == 400, (location, answer.text)
    body = answer.json()
    assert body["error_code"] == "INVALID_PARAMETER_VALUE", body
    assert "Traceback" not in answer.text


def _experiment_names(http: httpx.Client) -> set[str]:
    body = {"max_results": 1000, "view_type": "ALL"}
    found = http.post(f"{MLFLOW}/experiments/search", json=body).json()
    return {e["name"] for e in found.get("experiments", [])}


def test_experiment_locations_outside_the_roots_are_refused_on_both_apis(server: Server) -> None:
    with server.client() as http:
        for location in _refused(server):
            name = f"bad-{uuid.uuid4().hex[:8]}"
            mlflow = http.post(
                f"{MLFLOW}/experiments/create", json={"name": name, "artifact_location": location}
            )
            _assert_refused(mlflow, location)
            native = http.post(
                "/api/v1/experiments", json={"name": name, "artifact_location": location}
            )
            _assert_refused(native, location)
        assert not [n for n in _experiment_names(http) if n.startswith("bad-")]
        message = http.post(
            f"{MLFLOW}/experiments/create", json={"name": "x", "artifact_location": "/etc"}
        ).json()["message"]
        assert "outside the server's artifact roots" in message and TEAM_ROOT in message


def test_experiment_locations_inside_the_roots_are_accepted(server: Server) -> None:
    with server.client() as http:
        for i, location in enumerate(_accepted(server)):
            name = f"good-{uuid.uuid4().hex[:8]}"
            if i % 2:
                answer = http.post(
                    "/api/v1/experiments", json={"name": name, "artifact_location": location}
                )
                assert answer.status_code == 201, answer.text
                exp_id = answer.json()["experiment_id"]
            else:
                answer = http.post(
                    f"{MLFLOW}/experiments/create",
                    json={"name": name, "artifact_location": location},
                )
                assert answer.status_code == 200, answer.text
                exp_id = answer.json()["experiment_id"]
            got = http.get(f"{MLFLOW}/experiments/get", params={"experiment_id": exp_id}).json()
            assert got["experiment"]["artifact_location"] == location


def test_model_sources_outside_the_roots_are_refused_on_both_apis(server: Server) -> None:
    name = f"model-{uuid.uuid4().hex[:8]}"
    with server.client() as http:
        assert http.post(f"{MLFLOW}/registered-models/create", json={"name": name}).is_success
        for source in _refused(server):
            mlflow = http.post(
                f"{MLFLOW}/model-versions/create", json={"name": name, "source": source}
            )
            _assert_refused(mlflow, source)
            native = http.post(
                f"/api/v1/registered-models/{name}/versions", json={"source": source}
            )
            _assert_refused(native, source)
        listed = http.get(
            f"{MLFLOW}/model-versions/search", params={"filter": f"name = '{name}'"}
        ).json()
        assert listed.get("model_versions", []) == []
        for source in _accepted(server):
            answer = http.post(
                f"{MLFLOW}/model-versions/create", json={"name": name, "source": source}
            )
            assert answer.status_code == 200, answer.text
            version = answer.json()["model_version"]["version"]
            uri = http.get(
                f"{MLFLOW}/model-versions/get-download-uri",
                params={"name": name, "version": version},
            ).json()["artifact_uri"]
            assert uri == source


def test_rows_stored_before_the_check_are_refused_when_used(server: Server) -> None:
    """A database written without the check (here: by an in-process client on the server's
    machine, which is not restricted) must not make the server read /etc."""
    local = TrackingClient(str(server.store))
    exp_id = local.create_experiment(f"legacy-{uuid.uuid4().hex[:8]}", artifact_location="/etc")
    run_id = local.create_run(exp_id).info.run_id
    assert local.get_run(run_id).info.artifact_uri.startswith("/etc")
    model = f"legacy-model-{uuid.uuid4().hex[:8]}"
    local.create_registered_model(model)
    version = local.create_model_version(model, "file:///etc", await_creation_for=0).version

    with server.client() as http:
        for route in ("artifact-preview", "artifact-raw"):
            answer = http.get(f"/ui-api/{route}", params={"run_id": run_id, "path": "passwd"})
            assert answer.status_code == 400, answer.text
            assert "outside the server's artifact roots" in answer.json()["message"]
        listing = http.get("/ui-api/artifacts", params={"run_id": run_id})
        assert listing.status_code == 400, listing.text
        assert "passwd" not in listing.text
        page = http.get(f"/experiments/{exp_id}/runs/{run_id}/artifacts")
        assert "passwd" not in page.text
        mlflow_list = http.get(f"{MLFLOW}/artifacts/list", params={"run_id": run_id})
        _assert_refused(mlflow_list, "/etc")
        download = http.get(
            f"{MLFLOW}/model-versions/get-download-uri",
            params={"name": model, "version": str(version)},
        )
        _assert_refused(download, "file:///etc")
        model_page = http.get(f"/models/{model}/versions/{version}")
        assert "root:" not in model_page.text


def test_a_dashboard_over_a_database_reads_what_in_process_clients_logged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`mltrail ui --backend-store-uri sqlite:///x.db` after logging to that database in
    process: the runs' files are in the database's own artifact folder, which is a root."""
    from harness.inprocess import app_client
    from mltrail.config import Settings
    from mltrail.server.app import create_app

    monkeypatch.chdir(tmp_path)
    db_uri = f"sqlite:///{tmp_path / 'x.db'}"
    local = TrackingClient(db_uri)
    run_id = local.create_run(local.create_experiment("local")).info.run_id
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    local.log_artifact(run_id, notes)
    assert local.get_run(run_id).info.artifact_uri.startswith((tmp_path / "artifacts").as_uri())

    app = create_app(Settings(backend_store_uri=db_uri, no_auth=True))
    with app_client(app) as http:
        answer = http.get(
            "/ui-api/artifact-preview", params={"run_id": run_id, "path": "notes.txt"}
        )
        assert answer.status_code == 200, answer.text
        assert "hello" in answer.text
        created = http.post(
            f"{MLFLOW}/experiments/create",
            json={"name": "beside", "artifact_location": (tmp_path / "artifacts" / "b").as_uri()},
        )
        assert created.status_code == 200, created.text
