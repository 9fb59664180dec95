"""A script moved from mlflow keeps its environment: MLFLOW_TRACKING_* are honoured when the
MLTRAIL_ ones are absent, and the process says once where it logs."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from mltrail.config import load_settings

SCRIPT = textwrap.dedent(
    """
    import mltrail
    mltrail.set_experiment("moved")
    with mltrail.start_run() as run:
        mltrail.log_param("lr", 0.1)
        mltrail.log_metric("loss", 0.5)
    print(run.info.run_id)
    """
)


def _run(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MLTRAIL_", "MLFLOW_"))}
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    return subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def test_a_script_with_only_mlflow_variables_logs_where_they_say(tmp_path: Path) -> None:
    db = tmp_path / "team.db"
    done = _run(tmp_path, MLFLOW_TRACKING_URI=f"sqlite:///{db}")
    run_id = done.stdout.strip().splitlines()[-1]
    assert f"mltrail: logging to sqlite:///{db} (from MLFLOW_TRACKING_URI)" in done.stderr
    assert done.stderr.count("mltrail: logging to") == 1
    assert not (tmp_path / "mltrail").exists()  # not the default folder
    from mltrail import TrackingClient

    stored = TrackingClient(f"sqlite:///{db}").get_run(run_id)
    assert stored.data.params == {"lr": "0.1"} and stored.data.metrics == {"loss": 0.5}


def test_the_default_folder_is_announced_with_the_way_out(tmp_path: Path) -> None:
    done = _run(tmp_path)
    assert "mltrail: logging to" in done.stderr and "no tracking URI set" in done.stderr
    assert "MLFLOW_TRACKING_URI" in done.stderr
    assert (tmp_path / "mltrail" / "mltrail.db").is_file()
    quiet = _run(tmp_path, MLTRAIL_QUIET="true")
    assert "mltrail: logging to" not in quiet.stderr


def test_mlflow_names_fill_in_and_mltrail_names_win() -> None:
    env = {
        "MLFLOW_TRACKING_URI": "http://mlflow.example:5000",
        "MLFLOW_TRACKING_USERNAME": "alice",
        "MLFLOW_TRACKING_PASSWORD": "pw",
        "MLFLOW_TRACKING_TOKEN": "tok",
        "MLFLOW_TRACKING_INSECURE_TLS": "true",
        "MLFLOW_EXPERIMENT_NAME": "churn",
    }
    settings = load_settings(env)
    assert settings.tracking_uri == "http://mlflow.example:5000"
    assert settings.tracking_uri_source == "MLFLOW_TRACKING_URI"
    assert (settings.tracking_username, settings.tracking_password) == ("alice", "pw")
    assert settings.tracking_token == "tok" and settings.tracking_insecure_tls is True
    assert settings.experiment_name == "churn"
    both = load_settings({**env, "MLTRAIL_TRACKING_URI": "http://mine:5000",
                          "MLTRAIL_TRACKING_USERNAME": "bob"})  # fmt: skip
    assert both.tracking_uri == "http://mine:5000"
    assert both.tracking_uri_source == "MLTRAIL_TRACKING_URI"
    assert both.tracking_username == "bob" and both.tracking_password == "pw"
