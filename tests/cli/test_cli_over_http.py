"""The CLI against a real ``mltrail server`` (the REST backend of the client)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from harness.servers import free_port as _free_port
from mltrail.cli.main import cli
from mltrail.client.tracking_client import TrackingClient
from mltrail.entities import Metric

from .conftest import clean_env, parse_json


@pytest.fixture
def server_url(tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    log = (tmp_path / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "mltrail", "server", "--no-auth", "--port", str(port),
         "--backend-store-uri", str(tmp_path / "server-store")],
        cwd=tmp_path, env=clean_env(), stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, (tmp_path / "server.log").read_text()
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def test_experiments_and_runs_over_http(server_url: str) -> None:
    runner = CliRunner()

    def run(*args: str, expect: int = 0) -> str:
        result = runner.invoke(cli, ["--tracking-uri", server_url, *args])
        assert result.exit_code == expect, (result.stdout, result.stderr)
        return result.stdout if expect == 0 else result.stderr

    run("experiments", "create", "remote")
    client = TrackingClient(tracking_uri=server_url)
    experiment = client.get_experiment_by_name("remote")
    assert experiment is not None
    run_id = client.create_run(experiment.experiment_id, run_name="r1").info.run_id
    client.log_batch(run_id, metrics=[Metric("loss", 1.0 / (s + 1), 0, s) for s in range(10)])

    listed = parse_json(runner.invoke(cli, ["--tracking-uri", server_url, "runs", "list",
                                            "-e", "remote", "-o", "json"]))  # fmt: skip
    assert [r["info"]["run_id"] for r in listed] == [run_id]
    assert listed[0]["data"]["metrics"] == {"loss": 0.1}

    shown = parse_json(runner.invoke(cli, ["--tracking-uri", server_url, "runs", "show",
                                           run_id, "-o", "json"]))  # fmt: skip
    assert shown["metrics"][0]["count"] == 10
    assert shown["metrics"][0]["min"] == 0.1

    error = run("runs", "list", "-e", "remote", "--filter", "metrics.loss >>> 1", expect=2)
    assert error.startswith("Error: ")
    assert "Traceback" not in error

    run("runs", "delete", run_id)
    assert run("runs", "list", "-e", "remote", "--view", "deleted").count(run_id) == 1
    run("experiments", "delete", "remote")
    assert "remote" in run("experiments", "list", "--view", "deleted")


def test_unreachable_server_is_one_line(tmp_path: Path) -> None:
    env = clean_env(MLTRAIL_HTTP_MAX_RETRIES="0")
    done = subprocess.run(
        [sys.executable, "-m", "mltrail", "--tracking-uri", f"http://127.0.0.1:{_free_port()}",
         "experiments", "list"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.startswith("Error: Nothing answers at http://127.0.0.1:")
    assert done.stderr.count("\n") == 1
    assert done.stdout == ""
