"""Logged models and the model registry over a tracking server's native API (``/api/v1``):
the REST implementation of :class:`mltrail.models_api.ModelsAPI`.

Shares the HTTP session (credentials, TLS, retries) of the server's tracking backend.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from mltrail.client.rest_http import HttpSession
from mltrail.entities import PagedList
from mltrail.errors import InvalidParameterValue
from mltrail.model_entities import (
    DatasetScope,
    LoggedModel,
    LoggedModelMetric,
    LoggedModelStatus,
    ModelOrder,
    ModelVersion,
    RegisteredModel,
)

API = "/api/v1"
_NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _seg(value: object) -> str:
    """One path segment; ``.`` and ``..`` encoded too, so no client or proxy folds them away."""
    text = str(value)
    if not text:
        raise InvalidParameterValue("A model name (and version) must not be empty.")
    if "/" in text:
        raise InvalidParameterValue(f"Invalid name or version {text!r}: it cannot contain '/'.")
    encoded = quote(text, safe="")
    return encoded.replace(".", "%2E") if encoded in (".", "..") else encoded


def _float(value: Any) -> float:
    return _NONFINITE[value] if isinstance(value, str) else float(value)


def logged_model_in(data: Mapping[str, Any]) -> LoggedModel:
    return LoggedModel(
        model_id=data["model_id"],
        experiment_id=str(data["experiment_id"]),
        name=data["name"],
        artifact_location=data["artifact_location"],
        creation_timestamp=int(data["creation_timestamp"]),
        last_updated_timestamp=int(data["last_updated_timestamp"]),
        status=LoggedModelStatus.parse(data["status"]),
        status_message=data.get("status_message"),
        model_type=data.get("model_type"),
        source_run_id=data.get("source_run_id"),
        lifecycle_stage=data.get("lifecycle_stage") or "active",
        tags=dict(data.get("tags") or {}),
        params=dict(data.get("params") or {}),
        metrics=tuple(
            LoggedModelMetric(
                key=m["key"],
                value=_float(m["value"]),
                timestamp=int(m["timestamp"]),
                step=int(m["step"]),
                run_id=m.get("run_id"),
                model_id=m.get("model_id"),
                dataset_name=m.get("dataset_name"),
                dataset_digest=m.get("dataset_digest"),
            )
            for m in data.get("metrics") or ()
        ),
    )


def model_version_in(data: Mapping[str, Any]) -> ModelVersion:
    return ModelVersion(
        name=data["name"],
        version=int(data["version"]),
        creation_timestamp=int(data["creation_timestamp"]),
        last_updated_timestamp=int(data["last_updated_timestamp"]),
        current_stage=data.get("current_stage") or "None",
        description=data.get("description"),
        source=data.get("source") or "",
        storage_location=data.get("storage_location") or "",
        run_id=data.get("run_id"),
        run_link=data.get("run_link"),
        model_id=data.get("model_id"),
        user_id=data.get("user_id"),
        status=data.get("status") or "READY",
        status_message=data.get("status_message"),
        tags=dict(data.get("tags") or {}),
        aliases=tuple(data.get("aliases") or ()),
    )


def registered_model_in(data: Mapping[str, Any]) -> RegisteredModel:
    return RegisteredModel(
        name=data["name"],
        creation_timestamp=int(data["creation_timestamp"]),
        last_updated_timestamp=int(data["last_updated_timestamp"]),
        description=data.get("description"),
        user_id=data.get("user_id"),
        tags=dict(data.get("tags") or {}),
        aliases={str(k): int(v) for k, v in (data.get("aliases") or {}).items()},
        latest_versions=tuple(model_version_in(v) for v in data.get("latest_versions") or ()),
    )


def _rm(name: str) -> str:
    return f"{API}/registered-models/{_seg(name)}"


def _mv(name: str, version: int | str) -> str:
    return f"{_rm(name)}/versions/{_seg(version)}"


class RestModels:
    """Every ModelsAPI operation as one HTTP request to the native API."""

    def __init__(self, http: HttpSession) -> None:
        self.http = http

    # -- logged models -------------------------------------------------------
    def create_logged_model(
        self,
        experiment_id: str,
        *,
        name: str | None = None,
        source_run_id: str | None = None,
        model_type: str | None = None,
        params: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        model_id: str | None = None,
    ) -> LoggedModel:
        body = {
            "experiment_id": str(experiment_id),
            "name": name,
            "source_run_id": source_run_id,
            "model_type": model_type,
            "params": dict(params or {}),
            "tags": dict(tags or {}),
        }
        if model_id is not None:
            body["model_id"] = model_id
        answer = self.http.call("POST", f"{API}/logged-models", json_body=body)
        return logged_model_in(answer["model"])

    def get_logged_model(self, model_id: str, *, allow_deleted: bool = False) -> LoggedModel:
        answer = self.http.call(
            "GET",
            f"{API}/logged-models/{_seg(model_id)}",
            params={"allow_deleted": "true" if allow_deleted else None},
        )
        return logged_model_in(answer["model"])

    def finalize_logged_model(
        self, model_id: str, *, status: LoggedModelStatus | str | int
    ) -> LoggedModel:
        answer = self.http.call(
            "PATCH",
            f"{API}/logged-models/{_seg(model_id)}",
            json_body={"status": LoggedModelStatus.parse(status).value},
        )
        return logged_model_in(answer["model"])

    def set_logged_model_tags(self, model_id: str, *, tags: Mapping[str, str]) -> None:
        self.http.call(
            "POST", f"{API}/logged-models/{_seg(model_id)}/tags", json_body={"tags": dict(tags)}
        )

    def delete_logged_model_tag(self, model_id: str, *, key: str) -> None:
        self.http.call("DELETE", f"{API}/logged-models/{_seg(model_id)}/tags", params={"key": key})

    def log_logged_model_params(self, model_id: str, *, params: Mapping[str, str]) -> None:
        self.http.call(
            "POST",
            f"{API}/logged-models/{_seg(model_id)}/params",
            json_body={"params": dict(params)},
        )

    def delete_logged_model(self, model_id: str) -> None:
        self.http.call("DELETE", f"{API}/logged-models/{_seg(model_id)}")

    def search_logged_models(
        self,
        experiment_ids: Sequence[str],
        *,
        filter_string: str | None = None,
        datasets: Sequence[DatasetScope] = (),
        max_results: int | None = None,
        order_by: Sequence[ModelOrder] = (),
        page_token: str | None = None,
    ) -> PagedList[LoggedModel]:
        body = {
            "experiment_ids": [str(e) for e in experiment_ids],
            "filter": filter_string,
            "datasets": [{"name": d.name, "digest": d.digest} for d in datasets],
            "order_by": [
                {
                    "field_name": o.field_name,
                    "ascending": o.ascending,
                    "dataset_name": o.dataset_name,
                    "dataset_digest": o.dataset_digest,
                }
                for o in order_by
            ],
            "max_results": max_results,
            "page_token": page_token,
        }
        answer = self.http.call("POST", f"{API}/logged-models/search", json_body=body)
        return PagedList(
            [logged_model_in(m) for m in answer["models"]], answer.get("next_page_token")
        )

    # -- registered models ---------------------------------------------------
    def create_registered_model(
        self,
        name: str,
        *,
        tags: Mapping[str, str] | None = None,
        description: str | None = None,
    ) -> RegisteredModel:
        body = {"name": name, "tags": dict(tags or {}), "description": description}
        answer = self.http.call("POST", f"{API}/registered-models", json_body=body)
        return registered_model_in(answer["registered_model"])

    def get_registered_model(self, name: str) -> RegisteredModel:
        return registered_model_in(self.http.call("GET", _rm(name))["registered_model"])

    def rename_registered_model(self, name: str, *, new_name: str) -> RegisteredModel:
        answer = self.http.call("POST", f"{_rm(name)}/rename", json_body={"new_name": new_name})
        return registered_model_in(answer["registered_model"])

    def update_registered_model(self, name: str, *, description: str | None) -> RegisteredModel:
        answer = self.http.call("PATCH", _rm(name), json_body={"description": description})
        return registered_model_in(answer["registered_model"])

    def delete_registered_model(self, name: str) -> None:
        self.http.call("DELETE", _rm(name))

    def set_registered_model_tag(self, name: str, *, key: str, value: str) -> None:
        self.http.call("POST", f"{_rm(name)}/tags", json_body={"key": key, "value": value})

    def delete_registered_model_tag(self, name: str, *, key: str) -> None:
        self.http.call("DELETE", f"{_rm(name)}/tags", params={"key": key})

    def search_registered_models(
        self,
        *,
        filter_string: str | None = None,
        max_results: int | None = None,
        order_by: Sequence[str] = (),
        page_token: str | None = None,
    ) -> PagedList[RegisteredModel]:
        body = {
            "filter": filter_string,
            "max_results": max_results,
            "order_by": list(order_by),
            "page_token": page_token,
        }
        answer = self.http.call("POST", f"{API}/registered-models/search", json_body=body)
        return PagedList(
            [registered_model_in(m) for m in answer["registered_models"]],
            answer.get("next_page_token"),
        )

    def get_latest_versions(self, name: str, *, stages: Sequence[str] = ()) -> list[ModelVersion]:
        answer = self.http.call(
            "GET", f"{_rm(name)}/latest-versions", params={"stages": list(stages) or None}
        )
        return [model_version_in(v) for v in answer["model_versions"]]

    # -- aliases ---------------------------------------------------------------
    def set_registered_model_alias(self, name: str, *, alias: str, version: int | str) -> None:
        self.http.call(
            "PUT", f"{_rm(name)}/aliases/{_seg(alias)}", json_body={"version": str(version)}
        )

    def delete_registered_model_alias(self, name: str, *, alias: str) -> None:
        self.http.call("DELETE", f"{_rm(name)}/aliases/{_seg(alias)}")

    def get_model_version_by_alias(self, name: str, *, alias: str) -> ModelVersion:
        answer = self.http.call("GET", f"{_rm(name)}/aliases/{_seg(alias)}")
        return model_version_in(answer["model_version"])

    # -- model versions ----------------------------------------------------------
    def create_model_version(
        self,
        name: str,
        *,
        source: str,
        run_id: str | None = None,
        tags: Mapping[str, str] | None = None,
        run_link: str | None = None,
        description: str | None = None,
        model_id: str | None = None,
    ) -> ModelVersion:
        body = {
            "source": source,
            "run_id": run_id,
            "tags": dict(tags or {}),
            "run_link": run_link,
            "description": description,
            "model_id": model_id,
        }
        answer = self.http.call("POST", f"{_rm(name)}/versions", json_body=body)
        return model_version_in(answer["model_version"])

    def get_model_version(self, name: str, *, version: int | str) -> ModelVersion:
        return model_version_in(self.http.call("GET", _mv(name, version))["model_version"])

    def get_model_version_download_uri(self, name: str, *, version: int | str) -> str:
        return str(self.http.call("GET", f"{_mv(name, version)}/download-uri")["artifact_uri"])

    def update_model_version(
        self, name: str, *, version: int | str, description: str | None
    ) -> ModelVersion:
        answer = self.http.call("PATCH", _mv(name, version), json_body={"description": description})
        return model_version_in(answer["model_version"])

    def transition_model_version_stage(
        self,
        name: str,
        *,
        version: int | str,
        stage: str,
        archive_existing_versions: bool = False,
    ) -> ModelVersion:
        body = {"stage": stage, "archive_existing_versions": archive_existing_versions}
        answer = self.http.call("POST", f"{_mv(name, version)}/stage", json_body=body)
        return model_version_in(answer["model_version"])

    def delete_model_version(self, name: str, *, version: int | str) -> None:
        self.http.call("DELETE", _mv(name, version))

    def set_model_version_tag(self, name: str, *, version: int | str, key: str, value: str) -> None:
        self.http.call("POST", f"{_mv(name, version)}/tags", json_body={"key": key, "value": value})

    def delete_model_version_tag(self, name: str, *, version: int | str, key: str) -> None:
        self.http.call("DELETE", f"{_mv(name, version)}/tags", params={"key": key})

    def search_model_versions(
        self,
        *,
        filter_string: str | None = None,
        max_results: int | None = None,
        order_by: Sequence[str] = (),
        page_token: str | None = None,
    ) -> PagedList[ModelVersion]:
        body = {
            "filter": filter_string,
            "max_results": max_results,
            "order_by": list(order_by),
            "page_token": page_token,
        }
        answer = self.http.call("POST", f"{API}/model-versions/search", json_body=body)
        return PagedList(
            [model_version_in(v) for v in answer["model_versions"]],
            answer.get("next_page_token"),
        )
