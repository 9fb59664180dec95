"""The client's transport seam: TrackingClient, the fluent API, the artifact proxy and the CLI
reach an app mounted in-process, and a session given a transport uses it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
from click.testing import CliRunner

import mltrail
from harness.inprocess import InProcessServer
from mltrail.cli.main import cli
from mltrail.client import rest_http
from mltrail.client.rest import RestBackend
from mltrail.config import Settings

StartServer = Callable[..., InProcessServer]


def test_tracking_client_fluent_and_artifacts_reach_the_mounted_app(
    app_server: StartServer, tmp_path: Path, store_dir: Path
) -> None:
    server = app_server()
    mltrail.set_tracking_uri(server.url)
    mltrail.set_experiment("seam")
    note = tmp_path / "note.txt"
    note.write_text("hello")
    with mltrail.start_run() as run:
        mltrail.log_metric("loss", 0.5, step=1)
        mltrail.log_param("lr", "0.1")
        mltrail.log_artifact(str(note))
    client = mltrail.TrackingClient(server.url)
    got = client.get_run(run.info.run_id)
    assert got.data.params == {"lr": "0.1"}
    assert [m.value for m in client.get_metric_history(run.info.run_id, "loss")] == [0.5]
    assert [f.path for f in client.list_artifacts(run.info.run_id)] == ["note.txt"]
    # What the app stored is on the app's own folder store, not in the client's.
    assert (tmp_path / "server-store").exists()
    assert not store_dir.exists()


def test_cli_reaches_the_mounted_app(app_server: StartServer) -> None:
    server = app_server()
    runner = CliRunner()
    made = runner.invoke(cli, ["--tracking-uri", server.url, "experiments", "create", "cli-exp"])
    assert made.exit_code == 0, made.output
    listed = runner.invoke(
        cli, ["--tracking-uri", server.url, "experiments", "list", "--output", "json"]
    )
    assert listed.exit_code == 0, listed.output
    assert "cli-exp" in [e["name"] for e in json.loads(listed.stdout)]


def test_an_explicit_transport_answers_instead_of_the_network() -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return httpx.Response(200, json={"experiment_id": "7"})

    backend = RestBackend(
        "http://nowhere.invalid", settings=Settings(), transport=httpx.MockTransport(answer)
    )
    assert backend.create_experiment("x") == "7"
    assert seen == ["/api/v1/experiments"]


def test_unmounted_urls_use_the_network_again() -> None:
    url = "http://unmounted.localhost:9"
    with rest_http.mounted_transport(url, httpx.MockTransport(lambda r: httpx.Response(200))):
        assert rest_http._mounts
    session = rest_http.HttpSession(url, settings=Settings(http_max_retries=0))
    try:
        assert not isinstance(session.client._transport, httpx.MockTransport)
    finally:
        session.close()
