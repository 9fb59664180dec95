"""The tracking server goes away in the middle of an autologged, system-sampled run: training
goes on, what cannot be sent (metrics, params, the fitted model) is spooled, and
``mltrail sync`` delivers it when the server is back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mltrail.client.rest import RestBackend
from mltrail.client.rest_models import RestModels
from mltrail.config import Settings

from .conftest import clean_env, spawn_script, sync

SCRIPT = """
import sys, time, mltrail
mltrail.set_tracking_uri({url!r})
mltrail.set_system_metrics_sampling_interval(0.1)
mltrail.autolog()
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
X, y = make_classification(200, 5, random_state=0)
with mltrail.start_run(log_system_metrics=True) as run:
    print(run.info.run_id, flush=True)
    sys.stdin.readline()  # the server has been stopped
    model = LogisticRegression(C=0.25).fit(X, y)
    print("trained", round(model.score(X, y), 3), flush=True)
    time.sleep(0.5)
print("done", flush=True)
"""


def test_server_gone_mid_run(make_server: Any, tmp_path: Path) -> None:
    server = make_server().start()
    spool_dir = tmp_path / "spool"
    env = clean_env(
        MLTRAIL_SPOOL_DIR=str(spool_dir), MLTRAIL_HTTP_MAX_RETRIES="1", MLTRAIL_FLUSH_TIMEOUT="3"
    )
    proc = spawn_script(SCRIPT.format(url=server.url), env=env, cwd=tmp_path)
    assert proc.stdout is not None and proc.stdin is not None
    run_id = proc.stdout.readline().strip()
    assert len(run_id) == 32, proc.stderr.read() if proc.stderr else ""
    server.stop()
    try:
        out, err = proc.communicate("go\n", timeout=300)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "trained 0." in out and "done" in out
    assert "mltrail autolog" not in err  # nothing autolog does failed
    kept = [line for line in err.splitlines() if "model 'model'" in line]
    assert len(kept) == 1 and "kept in the offline spool" in kept[0], err
    assert "1 artifact or model and the end of 1 run" in err
    assert "mltrail sync" in err  # told how to upload what was spooled

    server.start()
    done = sync("sync", "--spool-dir", str(spool_dir), env=clean_env())
    assert done.returncode == 0, done.stderr
    backend = RestBackend(server.url, settings=Settings(http_max_retries=2))
    try:
        run = backend.get_run(run_id)
        cpu = backend.get_metric_history(run_id, key="system/cpu_utilization_percentage")
        models = RestModels(backend.http).search_logged_models([run.info.experiment_id])
    finally:
        backend.close()
    assert [(m.name, m.source_run_id, m.status.name) for m in models] == [
        ("model", run_id, "READY")
    ]
    assert run.info.status == "FINISHED"
    assert run.data.params["C"] == "0.25"  # queued when the server was gone, then synced
    assert "training_accuracy_score" in run.data.metrics
    steps = [m.step for m in cpu]
    assert steps == list(range(len(steps))) and len(steps) >= 2
