"""The dashboard's model version page shows the command that serves that version."""

from __future__ import annotations

import html
import shlex
from pathlib import Path

from fastapi.testclient import TestClient

import mltrail
from mltrail.client.tracking_client import TrackingClient
from mltrail.config import Settings
from mltrail.server.app import create_app

from .conftest import training_frame


def test_the_version_page_shows_the_serve_command(tmp_path: Path) -> None:
    from sklearn.linear_model import Ridge

    store = f"sqlite:///{tmp_path / 'm.db'}"
    mltrail.set_tracking_uri(store)
    mltrail.set_experiment("dash")
    frame, target = training_frame(30)
    with mltrail.start_run():
        mltrail.sklearn.log_model(
            Ridge().fit(frame, target), "model", registered_model_name="churn model"
        )
    mltrail.flush()
    TrackingClient(tracking_uri=store).set_registered_model_alias("churn model", "champion", 1)
    app = create_app(Settings(backend_store_uri=store, no_auth=True))
    # The bound address's name: other Host headers are refused (DNS rebinding).
    with TestClient(app, base_url="http://127.0.0.1:5000") as client:
        page = client.get("/models/churn%20model/versions/1")
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert "--tracking-uri http://127.0.0.1:5000 models serve" in text
    assert f"models serve -m {shlex.quote('models:/churn model/1')} --port 5001" in text
    assert f"-m {shlex.quote('models:/churn model@champion')} --watch" in text
