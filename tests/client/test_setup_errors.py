"""Set-up mistakes a new user makes end in one line that says what to do: a wrong port, a
metric no float holds, a tracking URI that points inside the API, missing credentials."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

import mltrail
from harness.inprocess import InProcessServer
from harness.servers import clean_env, free_port
from mltrail.cli.main import cli
from mltrail.errors import MetricValueOutOfRange, TrackingServerUnreachable

SCRIPT = """
import mltrail
mltrail.set_tracking_uri("http://127.0.0.1:{port}")
mltrail.set_experiment("churn")
"""


def _script(tmp_path: Path, **env: str) -> tuple[subprocess.CompletedProcess[str], float]:
    path = tmp_path / "train.py"
    path.write_text(textwrap.dedent(SCRIPT).format(port=free_port()))
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, str(path)],
        cwd=tmp_path,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done, time.monotonic() - started


def test_a_wrong_port_is_one_line_at_once(tmp_path: Path) -> None:
    done, seconds = _script(tmp_path)
    assert done.returncode == 1
    assert seconds < 8, seconds  # interpreter start and imports included
    errors = [line for line in done.stderr.splitlines() if "mltrail: logging to" not in line]
    assert len(errors) == 1, done.stderr
    [line] = errors
    assert line.startswith(f"{tmp_path / 'train.py'}:4: mltrail: TrackingServerUnreachable:")
    assert "Nothing answers at http://127.0.0.1:" in line and "MLTRAIL_TRACKING_URI" in line


def test_tracebacks_come_back_when_asked(tmp_path: Path) -> None:
    done, _ = _script(tmp_path, MLTRAIL_TRACEBACKS="1")
    assert done.returncode == 1
    assert "Traceback (most recent call last)" in done.stderr
    assert "TrackingServerUnreachable" in done.stderr
    # The httpx error behind it is not chained into the traceback.
    assert "ConnectError" not in done.stderr


def test_the_api_raises_the_typed_error_without_a_chain() -> None:
    mltrail.set_tracking_uri(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(TrackingServerUnreachable) as caught:
        mltrail.TrackingClient().search_experiments()
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_a_metric_no_float_holds_is_refused_at_the_call(store_dir: Path) -> None:
    with mltrail.start_run() as run:
        for synchronous in (False, True):
            with pytest.raises(MetricValueOutOfRange, match="must fit a 64-bit float"):
                mltrail.log_metric("m", 10**400, synchronous=synchronous)
        with pytest.raises(MetricValueOutOfRange, match="integer of about 5000 digits"):
            mltrail.log_metrics({"m": 10**5000})
        with pytest.raises(MetricValueOutOfRange):
            mltrail.TrackingClient().log_metric(run.info.run_id, "m", 10**400)
        mltrail.log_metric("m", float("inf"))


@pytest.mark.parametrize("suffix", ["/api", "/api/2.0/mlflow", "/ajax-api/2.0/"])
def test_a_tracking_uri_inside_the_api_gets_a_hint(app_url: str, suffix: str) -> None:
    mltrail.set_tracking_uri(app_url + suffix)
    with pytest.raises(Exception, match=f"use the server's address alone, {app_url}$"):
        mltrail.TrackingClient().search_experiments()


def test_the_cli_names_the_credential_variables(
    app_server: Callable[..., InProcessServer], tmp_path: Path
) -> None:
    server = app_server(
        no_auth=False,
        admin_password="admin-password-123",
        backend_store_uri=f"sqlite:///{tmp_path / 'auth.db'}",
    )
    result = CliRunner().invoke(cli, ["--tracking-uri", server.url, "experiments", "list"])
    assert result.exit_code != 0
    message = result.stderr.strip()
    assert message.startswith("Error: ") and len(message.splitlines()) == 1
    assert "MLTRAIL_TRACKING_USERNAME" in message and "MLTRAIL_TRACKING_TOKEN" in message
