"""Real ``mltrail models serve`` processes: alias following under load, several workers,
statistics logged to a monitoring run, and refusals at start-up."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import mltrail
from mltrail.client.tracking_client import TrackingClient
from mltrail.serving.metrics import sample_value

from .conftest import FEATURES, clean_env, training_frame


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=60) as answer:
        body = answer.read()
    return json.loads(body) if body.strip().startswith(b"{") else body.decode()


def post(url: str, document: Any) -> tuple[int, Any]:
    request = urllib.request.Request(
        f"{url}/invocations",
        data=json.dumps(document).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def register_versions(store: str, name: str, scales: list[float]) -> list[float]:
    """One registered version per scale (the model predicts scale * sum of features);
    returns each version's prediction for the all-ones row."""
    from sklearn.linear_model import LinearRegression

    mltrail.set_tracking_uri(store)
    mltrail.set_experiment("serving-tests")
    frame, _ = training_frame(50)
    answers = []
    for scale in scales:
        with mltrail.start_run():
            model = LinearRegression().fit(frame, frame.sum(axis=1) * scale)
            mltrail.sklearn.log_model(
                model, "model", input_example=frame.head(2), registered_model_name=name
            )
        answers.append(
            float(model.predict(pd.DataFrame([[1.0] * len(FEATURES)], columns=FEATURES))[0])
        )
    mltrail.flush()
    return answers


ONES = {"dataframe_records": [dict.fromkeys(FEATURES, 1.0)]}


def test_watch_swaps_to_the_new_alias_target_under_concurrent_requests(
    tmp_path: Path, start_serving: Any
) -> None:
    store = str(tmp_path / "store")
    first, second = register_versions(store, "churn", [1.0, 2.0])
    client = TrackingClient(tracking_uri=store)
    client.set_registered_model_alias("churn", "champion", 1)
    serving = start_serving(
        ["-m", "models:/churn@champion", "--watch", "--watch-interval", "0.2"], tracking_uri=store
    )
    assert get(f"{serving.url}/version")["model_version"] == 1

    seen: list[list[float]] = [[] for _ in range(4)]
    failures: list[Any] = []
    swapped = threading.Event()
    done = threading.Event()

    def hammer(mine: list[float]) -> None:
        # Bounded: stops after the swap plus 40 more answers, or 4000 requests in all.
        after = 0
        for _ in range(4000):
            status, body = post(serving.url, ONES)
            if status != 200:
                failures.append(body)
                return
            mine.append(body["predictions"][0])
            if swapped.is_set():
                after += 1
                if after >= 40:
                    return
            if done.is_set():
                return

    threads = [threading.Thread(target=hammer, args=(s,)) for s in seen]
    for thread in threads:
        thread.start()
    client.set_registered_model_alias("churn", "champion", 2)
    for _ in range(600):
        if get(f"{serving.url}/version")["model_version"] == 2:
            swapped.set()
            break
        threading.Event().wait(0.1)
    if not swapped.is_set():
        done.set()
    for thread in threads:
        thread.join(timeout=300)
    assert swapped.is_set(), serving.log()
    assert not failures
    for answers in seen:
        assert all(a == pytest.approx(first) or a == pytest.approx(second) for a in answers)
        # Once a client got the new version, it never gets the old one again.
        labels = [1 if a == pytest.approx(first) else 2 for a in answers]
        assert labels == sorted(labels), labels
        assert labels[-1] == 2
    metrics = get(f"{serving.url}/metrics")
    assert sample_value(metrics, "mltrail_serving_model_swaps_total") == 1
    assert (
        sample_value(metrics, "mltrail_serving_model_info", {"name": "churn", "version": "2"}) == 1
    )
    assert (
        sample_value(metrics, "mltrail_serving_model_info", {"name": "churn", "version": "1"}) == 0
    )


def test_workers_share_the_load_and_metrics_add_up_with_statistics_logged_to_a_run(
    tmp_path: Path, start_serving: Any
) -> None:
    store = str(tmp_path / "store")
    (answer,) = register_versions(store, "churn", [3.0])
    serving = start_serving(
        [
            "-m",
            "models:/churn/1",
            "--workers",
            "2",
            "--log-to-run",
            "--monitor-experiment",
            "monitoring",
        ],
        tracking_uri=store,
    )
    rows = 0
    for n in range(1, 21):
        status, body = post(serving.url, {"dataframe_records": ONES["dataframe_records"] * n})
        assert status == 200 and body["predictions"] == [pytest.approx(answer)] * n
        rows += n
    text = get(f"{serving.url}/metrics")
    assert sample_value(text, "mltrail_serving_rows_scored_total") == rows
    assert (
        sample_value(
            text, "mltrail_serving_requests_total", {"endpoint": "invocations", "status": "200"}
        )
        == 20
    )
    assert serving.stop() == 0, serving.log()

    client = TrackingClient(tracking_uri=store)
    experiment = client.get_experiment_by_name("monitoring")
    assert experiment is not None
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.status == "FINISHED"
    assert run.data.tags["mltrail.serving.model_uri"] == "models:/churn/1"
    history = client.get_metric_history(run.info.run_id, "serving/rows")
    assert sum(m.value for m in history) == rows, serving.log()
    assert (
        sum(m.value for m in client.get_metric_history(run.info.run_id, "serving/requests")) == 20
    )
    means = client.get_metric_history(run.info.run_id, "prediction/mean")
    assert means and all(m.value == pytest.approx(answer) for m in means)


def _serve_fails(
    args: list[str], *, tracking_uri: str | None = None, cwd: Path
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "mltrail"]
    if tracking_uri is not None:
        command += ["--tracking-uri", tracking_uri]
    done = subprocess.run(
        [*command, "models", "serve", "--port", "0", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env=clean_env(),
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    return done


def test_start_up_refusals_are_one_clear_line(tmp_path: Path, ridge_dir: Path) -> None:
    import mltrail.sklearn

    store = str(tmp_path / "store")
    register_versions(store, "churn", [1.0])
    done = _serve_fails(["-m", "models:/churn@nobody"], tracking_uri=store, cwd=tmp_path)
    assert done.returncode == 1 and "nobody" in done.stderr
    done = _serve_fails(["-m", str(tmp_path / "missing")], cwd=tmp_path)
    assert done.returncode == 1 and "not found" in done.stderr.lower()
    done = _serve_fails(["-m", str(ridge_dir), "--env-manager", "conda"], cwd=tmp_path)
    assert done.returncode == 2 and "does not build environments" in done.stderr
    done = _serve_fails(["-m", str(ridge_dir), "--watch"], cwd=tmp_path)
    assert done.returncode == 2 and "--watch" in done.stderr

    frame, target = training_frame(20)
    from sklearn.linear_model import Ridge

    pickled = tmp_path / "pickled"
    mltrail.sklearn.save_model(Ridge().fit(frame, target), pickled, serialization_format="pickle")
    done = _serve_fails(["-m", str(pickled)], cwd=tmp_path)
    assert done.returncode == 2 and "--allow-pickle" in done.stderr and "pickle" in done.stderr

    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "MLmodel").write_text(
        "flavors:\n  python_function:\n    loader_module: mlflow.pytorch\n  pytorch:\n    pytorch_version: 2.5.0\n"
    )
    done = _serve_fails(["-m", str(foreign)], cwd=tmp_path)
    assert "mlflow.pytorch" in done.stderr


def test_pickle_is_served_with_allow_pickle_and_version_differences_are_announced(
    tmp_path: Path, start_serving: Any
) -> None:
    from sklearn.linear_model import Ridge

    import mltrail.sklearn

    frame, target = training_frame(20)
    pickled = tmp_path / "pickled"
    mltrail.sklearn.save_model(
        Ridge().fit(frame, target),
        pickled,
        serialization_format="pickle",
        input_example=frame.head(2),
    )
    requirements = pickled / "requirements.txt"
    requirements.write_text(
        requirements.read_text().replace("scikit-learn==", "scikit-learn==0.0.1+")
        + "nosuchlib==1.0\n"
    )
    serving = start_serving(["-m", str(pickled), "--allow-pickle"])
    status, body = post(serving.url, {"dataframe_records": frame.head(2).to_dict(orient="records")})
    assert status == 200 and len(body["predictions"]) == 2
    log = serving.log()
    assert "scikit-learn: the model recorded 0.0.1+" in log
    assert "nosuchlib==1.0 was recorded with the model; not installed" in log
