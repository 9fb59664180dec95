"""The mounted MLflow route table: both prefixes, and an authorization rule on every route."""

from __future__ import annotations

from pathlib import Path

from fastapi.routing import APIRoute

from mltrail.config import load_settings
from mltrail.server.api.mlflow.routing import API_ACCESS_KEY
from mltrail.server.app import create_app


def _mlflow_routes(tmp_path: Path) -> list[APIRoute]:
    settings = load_settings(
        {},
        backend_store_uri=f"sqlite:///{tmp_path / 'db.sqlite'}",
        artifacts_destination=str(tmp_path / "artifacts"),
        no_auth=True,
    )
    app = create_app(settings)
    return [
        r
        for r in app.routes
        if isinstance(r, APIRoute)
        and (
            r.path.startswith(("/api/2.0/mlflow", "/api/3.0/mlflow", "/ajax-api/"))
            or r.path in ROOT_ROUTES
        )
    ]


# MLflow serves these at the server root, not under /api.
ROOT_ROUTES = ("/graphql", "/get-artifact", "/model-versions/get-artifact")


def test_every_mlflow_route_declares_access_and_has_an_ajax_twin(tmp_path):
    routes = _mlflow_routes(tmp_path)
    paths = {(r.path, m) for r in routes for m in r.methods}
    assert ("/api/2.0/mlflow/runs/log-batch", "POST") in paths
    assert ("/api/2.0/mlflow/experiments/search", "GET") in paths
    assert ("/api/2.0/mlflow-artifacts/artifacts/{path:path}", "PUT") in paths
    assert ("/api/3.0/mlflow/server-info", "GET") in paths
    for route in routes:
        access = (route.openapi_extra or {}).get(API_ACCESS_KEY)
        assert isinstance(access, str) and access, route.path
        if route.path.startswith("/api/2.0/mlflow/") and "{rest:path}" not in route.path:
            twin = route.path.replace("/api/", "/ajax-api/", 1)
            assert any((twin, m) in paths for m in route.methods), route.path


def test_the_web_ui_routes_are_mounted_where_mlflow_serves_them(tmp_path):
    routes = _mlflow_routes(tmp_path)
    paths = {
        (r.path, m): (r.openapi_extra or {}).get(API_ACCESS_KEY) for r in routes for m in r.methods
    }
    expected = {
        ("/graphql", "POST"): "experiment:read",
        ("/graphql", "GET"): "experiment:read",
        ("/get-artifact", "GET"): "run:read",
        ("/model-versions/get-artifact", "GET"): "registered_model:read",
        ("/ajax-api/2.0/mlflow/metrics/get-history-bulk", "GET"): "run:read",
        ("/ajax-api/2.0/mlflow/experiments/search-datasets", "POST"): "experiment:read",
        ("/ajax-api/2.0/mlflow/upload-artifact", "POST"): "run:edit",
        ("/api/2.0/mlflow/runs/log-model", "POST"): "run:edit",
        ("/ajax-api/2.0/mlflow/runs/log-model", "POST"): "run:edit",
        (
            "/api/2.0/mlflow/logged-models/{model_id}/artifacts/directories",
            "GET",
        ): "logged_model:read",
        (
            "/ajax-api/2.0/mlflow/logged-models/{model_id}/artifacts/files",
            "GET",
        ): "logged_model:read",
    }
    for key, rule in expected.items():
        assert paths.get(key) == rule, key
    # Ajax-only in MLflow: not under /api.
    for path in (
        "/api/2.0/mlflow/metrics/get-history-bulk",
        "/api/2.0/mlflow/upload-artifact",
        "/api/2.0/mlflow/experiments/search-datasets",
        "/api/2.0/mlflow/logged-models/{model_id}/artifacts/files",
    ):
        assert not any(p == path for p, _ in paths), path
