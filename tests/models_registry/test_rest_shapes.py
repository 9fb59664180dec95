"""Wire-level quirks of the logged-model and registry routes, checked with plain HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mlflow_compat.conftest import Server, start_server

PROMPT = "tag.`mlflow.prompt.is_prompt` != 'true'"


@pytest.fixture
def mlflow_server(tmp_path: Path) -> Iterator[Server]:
    """New experiments under s3://bucket (never written here), which makes s3://bucket/...
    a place model sources may point at."""
    yield from start_server(tmp_path, default_artifact_root="s3://bucket")


def _call(client: httpx.Client, method: str, path: str, **kw: Any) -> tuple[int, dict[str, Any]]:
    answer = client.request(method, f"/api/2.0/mlflow{path}", **kw)
    return answer.status_code, answer.json()


def test_registry_wire_shapes(mlflow_server: Server) -> None:
    with httpx.Client(base_url=mlflow_server.url, timeout=30) as client:
        status, body = _call(client, "POST", "/registered-models/create", json={"name": "M"})
        assert status == 200 and body["registered_model"]["name"] == "M"
        status, body = _call(client, "POST", "/registered-models/create", json={"name": "M"})
        assert (status, body["error_code"]) == (400, "RESOURCE_ALREADY_EXISTS")
        status, body = _call(client, "POST", "/registered-models/create", json={})
        assert (status, body["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
        assert "Missing value for required parameter 'name'" in body["message"]

        tags = [{"key": "mlflow.prompt.is_prompt", "value": "true"}]
        _call(client, "POST", "/registered-models/create", json={"name": "P", "tags": tags})
        status, body = _call(client, "GET", "/registered-models/search", params={"filter": PROMPT})
        assert status == 200 and [m["name"] for m in body["registered_models"]] == ["M"]
        params = [("order_by", "name DESC"), ("max_results", "1")]
        status, body = _call(client, "GET", "/registered-models/search", params=params)
        assert [m["name"] for m in body["registered_models"]] == ["P"] and body["next_page_token"]

        status, body = _call(
            client, "POST", "/model-versions/create", json={"name": "M", "source": "s3://bucket/m"}
        )
        version = body["model_version"]
        assert version["version"] == "1" and version["status"] == "READY"
        assert version["current_stage"] == "None" and "aliases" not in version
        _call(
            client,
            "POST",
            "/registered-models/alias",
            json={"name": "M", "alias": "champion", "version": "1"},
        )
        status, body = _call(
            client, "GET", "/registered-models/alias", params={"name": "M", "alias": "champion"}
        )
        assert body["model_version"]["aliases"] == ["champion"]
        status, body = _call(client, "GET", "/registered-models/get", params={"name": "M"})
        model = body["registered_model"]
        assert model["aliases"] == [{"alias": "champion", "version": "1"}]
        assert [v["version"] for v in model["latest_versions"]] == ["1"]
        status, body = _call(
            client, "GET", "/model-versions/get-download-uri", params={"name": "M", "version": "1"}
        )
        assert body == {"artifact_uri": "s3://bucket/m"}
        status, body = _call(
            client, "GET", "/model-versions/get", params={"name": "M", "version": "x"}
        )
        assert (status, body["error_code"]) == (400, "INVALID_PARAMETER_VALUE")

        # DELETE carries a JSON body
        status, body = _call(client, "DELETE", "/registered-models/delete", json={"name": "M"})
        assert (status, body) == (200, {})
        status, body = _call(client, "GET", "/registered-models/get", params={"name": "M"})
        assert (status, body["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")
        # the same routes live under /ajax-api
        answer = client.get("/ajax-api/2.0/mlflow/registered-models/get", params={"name": "P"})
        assert answer.status_code == 200


def test_logged_model_wire_shapes(mlflow_server: Server) -> None:
    with httpx.Client(base_url=mlflow_server.url, timeout=30) as client:
        status, body = _call(client, "POST", "/logged-models", json={"name": "x"})
        assert (status, body["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
        assert "experiment_id" in body["message"]
        status, body = _call(client, "POST", "/logged-models", json={"experiment_id": "0"})
        info = body["model"]["info"]
        assert info["status"] == "LOGGED_MODEL_PENDING" and info["name"]
        assert info["artifact_uri"].endswith(f"/models/{info['model_id']}/artifacts")
        model_id = info["model_id"]
        # enums may come as numbers
        status, body = _call(
            client, "PATCH", f"/logged-models/{model_id}", json={"model_id": model_id, "status": 2}
        )
        assert body["model"]["info"]["status"] == "LOGGED_MODEL_READY"
        status, body = _call(
            client, "PATCH", f"/logged-models/{model_id}", json={"model_id": model_id}
        )
        assert (status, body["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
        tags = [{"key": "a/b", "value": "1"}]
        _call(client, "PATCH", f"/logged-models/{model_id}/tags", json={"tags": tags})
        status, body = _call(client, "DELETE", f"/logged-models/{model_id}/tags/a/b")
        assert (status, body) == (200, {})
        status, body = _call(client, "GET", f"/logged-models/{model_id}")
        assert "tags" not in body["model"]["info"]
        status, body = _call(
            client, "POST", "/logged-models/search", json={"experiment_ids": ["0"], "filter": "x"}
        )
        assert (status, body["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
        status, body = _call(
            client, "POST", "/logged-models/search", json={"experiment_ids": ["0"]}
        )
        assert [m["info"]["model_id"] for m in body["models"]] == [model_id]
        assert "next_page_token" not in body
        status, body = _call(client, "DELETE", f"/logged-models/{model_id}", json={})
        status, body = _call(client, "GET", f"/logged-models/{model_id}")
        assert (status, body["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")
        answer = client.get(
            f"/api/2.0/mlflow/logged-models/{model_id}", params={"allow_deleted": "true"}
        )
        assert answer.status_code == 200
