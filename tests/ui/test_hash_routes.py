"""MLflow's hash links land on the matching mltrail page, in Chromium.

Found as: the mlflow client prints "View run <name> at: http://server/#/experiments/1/runs/<id>",
and that link opened the experiments list. The links here are the ones the mlflow client
printed, plus the other hash routes of MLflow's dashboard (runs, compare, metric charts, logged
models, registered models and versions); with authentication on, the link survives the login.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from playwright.sync_api import Page, expect

from security.conftest import PASSWORDS, start_auth_server

from .conftest import UI, PageWatch
from .seed_models import mlflow_python

SCRIPT = textwrap.dedent(
    """
    import json, warnings
    warnings.filterwarnings("ignore")
    import mlflow
    from mlflow import MlflowClient
    mlflow.set_experiment("hash-links")
    with mlflow.start_run(run_name="linked") as first:
        mlflow.log_metric("loss", 0.5)
    with mlflow.start_run(run_name="other") as second:
        mlflow.log_metric("loss", 0.4)
    client = MlflowClient()
    experiment_id = first.info.experiment_id
    logged = client.create_logged_model(experiment_id, name="lm", source_run_id=first.info.run_id)
    client.create_registered_model("hash-model")
    client.create_model_version("hash-model", f"runs:/{first.info.run_id}/model",
                                run_id=first.info.run_id)
    print(json.dumps({"experiment_id": experiment_id, "runs": [first.info.run_id,
                      second.info.run_id], "logged_model": logged.model_id}))
    """
)


def _run_mlflow(url: str, workdir: Path, **env_extra: str) -> tuple[dict[str, Any], list[str]]:
    """Run the script; (its JSON, the "View ..." links the mlflow client printed)."""
    workdir.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "MLTRAIL_"))}
    env.update(MLFLOW_TRACKING_URI=url, GIT_PYTHON_REFRESH="quiet", **env_extra)
    done = subprocess.run(
        [str(mlflow_python()), "-c", SCRIPT],
        env=env,
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    lines = done.stdout.strip().splitlines()
    links = [m.group(1) for line in lines if (m := re.search(r"View \w+ .*?at: (\S+)", line))]
    return json.loads(lines[-1]), links


@pytest.fixture(scope="module")
def logged(
    ui: UI, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[dict[str, Any], list[str]]]:
    yield _run_mlflow(ui.url, tmp_path_factory.mktemp("hash-client"))


def test_the_links_the_mlflow_client_prints(
    page: Page, ui: UI, logged: tuple[dict[str, Any], list[str]]
) -> None:
    made, links = logged
    run_link = next(link for link in links if "/runs/" in link)
    experiment_link = next(link for link in links if "/runs/" not in link)
    assert run_link == f"{ui.url}/#/experiments/{made['experiment_id']}/runs/{made['runs'][0]}"
    page.goto(run_link)
    expect(page).to_have_url(f"{ui.url}/runs/{made['runs'][0]}")
    expect(page.locator("#run-name")).to_have_text("linked")
    page.goto(experiment_link)
    expect(page).to_have_url(f"{ui.url}/experiments/{made['experiment_id']}")
    expect(page.locator("h1")).to_contain_text("hash-links")


def test_mlflows_other_hash_routes(
    page: Page, ui: UI, logged: tuple[dict[str, Any], list[str]], watch: PageWatch
) -> None:
    made, _ = logged
    exp, (run, other), model_id = made["experiment_id"], made["runs"], made["logged_model"]
    runs_json = quote(json.dumps([run, other]))
    cases = {
        "#/": "/",
        "#/experiments": "/",
        f"#/experiments/{exp}/runs": f"/experiments/{exp}",
        f"#/experiments/{exp}/overview/summary": f"/experiments/{exp}",
        f"#/experiments/{exp}/runs/{run}/artifacts": f"/runs/{run}",
        f"#/experiments/{exp}/runs/{run}/artifactPath/model/MLmodel": (
            f"/runs/{run}?artifact=model%2FMLmodel#artifacts-section"
        ),
        f"#/runs/{run}": f"/runs/{run}",
        f"#/compare-runs?runs={runs_json}&experiments=[%22{exp}%22]": f"/compare?runs={run},{other}",
        f"#/metric/loss?runs={runs_json}&metric=%22loss%22": f"/compare?runs={run},{other}",
        f"#/experiments/{exp}/models": f"/experiments/{exp}/models",
        f"#/experiments/{exp}/models/{model_id}": f"/experiments/{exp}/models/{model_id}",
        "#/models": "/models",
        "#/models/hash-model": "/models/hash-model",
        "#/models/hash-model/versions/1": "/models/hash-model/versions/1",
        '#/compare-model-versions?name="hash-model"&runs={}': "/models/hash-model",
    }
    for hash_route, expected in cases.items():
        page.goto(f"{ui.url}/{hash_route}")
        expect(page).to_have_url(ui.url + expected)
        page.wait_for_load_state("networkidle")
    # A hash that is not one of MLflow's routes leaves the page alone.
    page.goto(f"{ui.url}/experiments/{exp}#h-runs")
    page.wait_for_load_state("networkidle")
    expect(page).to_have_url(f"{ui.url}/experiments/{exp}#h-runs")
    assert not watch.errors


def test_a_link_survives_the_login(page: Page, tmp_path_factory: pytest.TempPathFactory) -> None:
    server, proc = start_auth_server(tmp_path_factory.mktemp("hash-auth"))
    try:
        made, links = _run_mlflow(
            server.url,
            server.tmp_path / "client",
            MLFLOW_TRACKING_USERNAME="alice",
            MLFLOW_TRACKING_PASSWORD=PASSWORDS["alice"],
        )
        run_link = next(link for link in links if "/runs/" in link)
        page.goto(run_link)
        expect(page).to_have_url(re.compile(r"/login\?next="))
        page.get_by_label("User name").fill("alice")
        page.get_by_label("Password").fill(PASSWORDS["alice"])
        page.get_by_role("button", name="Sign in").click()
        expect(page).to_have_url(f"{server.url}/runs/{made['runs'][0]}")
        expect(page.locator("#run-name")).to_have_text("linked")
        page.wait_for_load_state("networkidle")
    finally:
        page.goto("about:blank")  # nothing of the page may still talk to the stopped server
        proc.terminate()
        proc.wait(timeout=40)
