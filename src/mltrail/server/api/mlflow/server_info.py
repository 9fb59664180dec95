"""``/api/3.0/mlflow/server-info``: the capabilities recent mlflow clients ask for."""

from __future__ import annotations

from typing import Any

from mltrail.server.api.mlflow.routing import Call, MlflowRouter

_router = MlflowRouter()


def router() -> MlflowRouter:
    return _router


@_router.rpc("GET", "/mlflow/server-info", access="public", version=3)
def server_info(call: Call) -> dict[str, Any]:
    # Multipart and presigned transfers are not offered, so the client never tries them.
    return {
        "store_type": None,
        "workspaces_enabled": False,
        "multipart_uploads_enabled": False,
        "multipart_downloads_enabled": False,
        "artifacts_presigned_only": False,
        "artifact_serving_enabled": call.services.artifacts is not None,
    }
