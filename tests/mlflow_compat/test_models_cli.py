"""Models outside Python: `mltrail models ...` and `mltrail runs compare` on runs the unmodified
mlflow client logged to a server.

Found as: `mltrail artifacts list` on a run whose model was logged with mlflow 3's
`sklearn.log_model` said "No artifacts." (the files live with the logged model), and there
was no `mltrail models` command.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from mltrail.cli.main import cli

from .conftest import MlflowRunner, Server

TRAIN = """
from sklearn.linear_model import LogisticRegression
mlflow.set_experiment("cli-models")
runs = []
for C in (0.5, 2.0):
    with mlflow.start_run() as run:
        mlflow.log_params({"C": C, "solver": "lbfgs"})
        model = LogisticRegression(C=C).fit([[0.0], [1.0], [0.1], [0.9]], [0, 1, 0, 1])
        mlflow.log_metric("accuracy", 1.0 if C > 1 else 0.75)
        info = mlflow.sklearn.log_model(model, name="model")
        runs.append({"run_id": run.info.run_id, "model_id": info.model_id})
emit(runs)
"""


def _cli(server: Server, *args: str, code: int = 0) -> str:
    done = CliRunner().invoke(cli, ["--tracking-uri", server.url, *args])
    assert done.exit_code == code, (args, done.output, done.exception)
    return done.output


def test_models_commands_on_mlflow_logged_models(
    server: Server, run_mlflow: MlflowRunner, tmp_path: Path
) -> None:
    trained: list[dict[str, Any]] = run_mlflow(TRAIN, timeout=300)
    first, second = trained
    run_id = first["run_id"]

    # The run's artifacts are empty, and the listing says where its model is.
    listed = _cli(server, "artifacts", "list", "--run-id", run_id)
    assert "No artifacts." in listed
    assert "This run logged 1 model" in listed and first["model_id"] in listed
    assert f"mltrail models download runs:/{run_id}/model" in listed

    logged = json.loads(_cli(server, "models", "list", "--run-id", run_id, "-o", "json"))
    assert [(m["name"], m["model_id"]) for m in logged] == [("model", first["model_id"])]
    assert first["model_id"] in _cli(server, "models", "list", "--experiment", "cli-models")

    # Register both runs' models, by run path and by logged-model id.
    out = _cli(server, "models", "register", f"runs:/{run_id}/model", "churn", "--tag", "team=ds")
    assert "Registered churn version 1 (models:/churn/1)" in out
    out = _cli(server, "models", "register", f"models:/{second['model_id']}", "churn")
    assert "version 2" in out
    assert "churn" in _cli(server, "models", "list")

    # Aliases: set, then moved.
    assert "churn@champion -> version 1" in _cli(
        server, "models", "alias", "churn", "champion", "1"
    )
    moved = _cli(server, "models", "alias", "churn", "champion", "2")
    assert "-> version 2 (was version 1)" in moved
    version = json.loads(_cli(server, "models", "show", "models:/churn@champion", "-o", "json"))
    assert version["version"] == 2 and version["run_id"] == second["run_id"]

    # Tags on the model and on a version.
    _cli(server, "models", "tag", "churn", "owner", "alice")
    _cli(server, "models", "tag", "churn", "validated", "yes", "--version", "1")
    shown = json.loads(_cli(server, "models", "show", "churn", "-o", "json"))
    assert shown["registered_model"]["tags"] == {"owner": "alice"}
    assert [v["version"] for v in shown["versions"]] == [2, 1]
    assert shown["versions"][1]["tags"] == {"team": "ds", "validated": "yes"}
    _cli(server, "models", "tag", "churn", "owner", "--delete")
    text = _cli(server, "models", "show", "churn")
    assert "@champion=v2" in text and "owner" not in text

    # The files come down by alias, by version and by logged-model id.
    for uri in ("models:/churn@champion", "models:/churn/1", f"models:/{first['model_id']}"):
        dst = tmp_path / uri.replace(":", "_").replace("/", "_").replace("@", "_")
        where = _cli(server, "models", "download", uri, "--dst", str(dst)).strip()
        assert (Path(where) / "MLmodel").is_file(), (uri, where)

    # Bad input: one line, exit code 2 or 1.
    bad = _cli(server, "models", "show", "models:/", code=2)
    assert "Invalid model URI" in bad and "Traceback" not in bad
    missing = _cli(server, "models", "show", "nope", code=1)
    assert "nope" in missing

    # Delete a version, then the model.
    _cli(server, "models", "delete", "churn", "--version", "1", "--yes")
    shown = json.loads(_cli(server, "models", "show", "churn", "-o", "json"))
    assert [v["version"] for v in shown["versions"]] == [2]
    _cli(server, "models", "delete", "churn", "--yes")
    assert "No registered models" in _cli(server, "models", "list")

    # runs compare: a column per run, differing rows marked.
    compared = _cli(server, "runs", "compare", run_id, second["run_id"])
    rows = {tuple(line.split()[:4]) for line in compared.splitlines()}
    assert ("*", "param", "C", "0.5") in rows  # differs: marked
    assert ("param", "solver", "lbfgs", "lbfgs") in rows  # the same: not marked
    data = json.loads(
        _cli(server, "runs", "compare", run_id, second["run_id"], "--only-diff", "-o", "json")
    )
    keys = {(row["kind"], row["key"]): row for row in data["rows"]}
    assert set(keys) == {("param", "C"), ("metric", "accuracy")}
    assert keys[("param", "C")]["values"] == ["0.5", "2.0"]
    assert keys[("metric", "accuracy")]["values"] == [0.75, 1.0]
    one = _cli(server, "runs", "compare", run_id, code=2)
    assert "at least two" in one
