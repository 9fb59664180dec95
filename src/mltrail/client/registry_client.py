"""``TrackingClient``'s logged-model and model-registry methods (MlflowClient's names).

A mixin, so that ``tracking_client`` stays about runs; every call goes straight to the
:class:`mltrail.models_api.ModelsAPI` backend of the client's tracking URI.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mltrail.client.backends import get_models_backend
from mltrail.config import Settings
from mltrail.entities import PagedList
from mltrail.errors import InvalidParameterValue, ResourceDoesNotExist
from mltrail.model_entities import (
    DatasetScope,
    LoggedModel,
    LoggedModelStatus,
    ModelOrder,
    ModelVersion,
    RegisteredModel,
)
from mltrail.models_api import ModelsAPI

if TYPE_CHECKING:
    from mltrail.artifacts.base import ArtifactStore

# MLflow's defaults for the registry searches.
REGISTERED_MODELS_PAGE = 100
MODEL_VERSIONS_PAGE = 10_000


def _str_map(values: Mapping[str, Any] | None) -> dict[str, str] | None:
    return None if values is None else {str(k): str(v) for k, v in values.items()}


def _datasets(datasets: Sequence[Mapping[str, Any] | DatasetScope] | None) -> list[DatasetScope]:
    out: list[DatasetScope] = []
    for item in datasets or ():
        if isinstance(item, DatasetScope):
            out.append(item)
        elif isinstance(item, Mapping) and item.get("dataset_name"):
            digest = item.get("dataset_digest")
            out.append(
                DatasetScope(str(item["dataset_name"]), None if digest is None else str(digest))
            )
        else:
            raise InvalidParameterValue(
                f"Invalid dataset {item!r}: expected {{'dataset_name': ..., 'dataset_digest': ...}}"
            )
    return out


def _orders(order_by: Sequence[Mapping[str, Any] | ModelOrder] | None) -> list[ModelOrder]:
    out: list[ModelOrder] = []
    for item in order_by or ():
        if isinstance(item, ModelOrder):
            out.append(item)
        elif isinstance(item, Mapping) and item.get("field_name"):
            out.append(
                ModelOrder(
                    field_name=str(item["field_name"]),
                    ascending=bool(item.get("ascending", True)),
                    dataset_name=item.get("dataset_name"),
                    dataset_digest=item.get("dataset_digest"),
                )
            )
        else:
            raise InvalidParameterValue(
                f"Invalid order_by entry {item!r}: expected {{'field_name': ..., 'ascending': ...}}"
            )
    return out


def _strings(values: Sequence[str] | str | None) -> list[str]:
    if values is None:
        return []
    return [values] if isinstance(values, str) else list(values)


class ModelRegistryMixin:
    """Logged models and the registry; mixed into :class:`TrackingClient`."""

    _tracking_uri: str
    _settings: Settings
    _models_api: ModelsAPI | None = None

    @property
    def models_backend(self) -> ModelsAPI:
        if self._models_api is None:
            self._models_api = get_models_backend(self._tracking_uri)
        return self._models_api

    # -- logged models -------------------------------------------------------
    def create_logged_model(
        self,
        experiment_id: str,
        name: str | None = None,
        source_run_id: str | None = None,
        tags: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        model_type: str | None = None,
        model_id: str | None = None,
    ) -> LoggedModel:
        """``model_id``: an id chosen by the caller ('m-' and 32 hex digits); else new."""
        return self.models_backend.create_logged_model(
            str(experiment_id),
            name=name,
            source_run_id=source_run_id,
            model_type=model_type,
            params=_str_map(params),
            tags=_str_map(tags),
            model_id=model_id,
        )

    def get_logged_model(self, model_id: str, allow_deleted: bool = False) -> LoggedModel:
        return self.models_backend.get_logged_model(model_id, allow_deleted=allow_deleted)

    def finalize_logged_model(
        self, model_id: str, status: LoggedModelStatus | str | int
    ) -> LoggedModel:
        return self.models_backend.finalize_logged_model(model_id, status=status)

    def set_logged_model_tags(self, model_id: str, tags: Mapping[str, Any]) -> None:
        self.models_backend.set_logged_model_tags(model_id, tags=_str_map(tags) or {})

    def delete_logged_model_tag(self, model_id: str, key: str) -> None:
        self.models_backend.delete_logged_model_tag(model_id, key=key)

    def log_model_params(self, model_id: str, params: Mapping[str, Any]) -> None:
        self.models_backend.log_logged_model_params(model_id, params=_str_map(params) or {})

    def delete_logged_model(self, model_id: str) -> None:
        self.models_backend.delete_logged_model(model_id)

    def search_logged_models(
        self,
        experiment_ids: Sequence[str] | str,
        filter_string: str | None = None,
        datasets: Sequence[Mapping[str, Any] | DatasetScope] | None = None,
        max_results: int | None = None,
        order_by: Sequence[Mapping[str, Any] | ModelOrder] | None = None,
        page_token: str | None = None,
    ) -> PagedList[LoggedModel]:
        return self.models_backend.search_logged_models(
            [str(e) for e in _strings(experiment_ids)],
            filter_string=filter_string,
            datasets=_datasets(datasets),
            max_results=max_results,
            order_by=_orders(order_by),
            page_token=page_token,
        )

    def logged_model_artifact_store(self, model_id: str) -> ArtifactStore:
        """The artifact store rooted at a logged model's files."""
        return self._open_artifact_uri(self.get_logged_model(model_id).artifact_location)

    def log_model_artifacts(self, model_id: str, local_dir: str | os.PathLike[str]) -> None:
        """Upload a folder's content as the files of a logged model."""
        from mltrail.client.artifact_ops import log_dir

        log_dir(self.logged_model_artifact_store(model_id), local_dir, None)

    def download_artifacts_from_uri(
        self, artifact_uri: str, dst_path: str | os.PathLike[str] | None = None
    ) -> str:
        """Copy everything under an artifact URI (as a model version's download URI) locally."""
        from mltrail.client.artifact_ops import download

        return download(self._open_artifact_uri(artifact_uri), "", dst_path)

    def _open_artifact_uri(self, artifact_uri: str) -> ArtifactStore:
        from mltrail.client.artifact_ops import open_run_artifacts

        return open_run_artifacts(
            artifact_uri, tracking_uri=self._tracking_uri, settings=self._settings
        )

    # -- registered models ---------------------------------------------------
    def create_registered_model(
        self,
        name: str,
        tags: Mapping[str, Any] | None = None,
        description: str | None = None,
    ) -> RegisteredModel:
        return self.models_backend.create_registered_model(
            name, tags=_str_map(tags), description=description
        )

    def get_registered_model(self, name: str) -> RegisteredModel:
        return self.models_backend.get_registered_model(name)

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        return self.models_backend.rename_registered_model(name, new_name=new_name)

    def update_registered_model(self, name: str, description: str | None = None) -> RegisteredModel:
        return self.models_backend.update_registered_model(name, description=description)

    def delete_registered_model(self, name: str) -> None:
        self.models_backend.delete_registered_model(name)

    def set_registered_model_tag(self, name: str, key: str, value: Any) -> None:
        self.models_backend.set_registered_model_tag(name, key=key, value=str(value))

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        self.models_backend.delete_registered_model_tag(name, key=key)

    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int = REGISTERED_MODELS_PAGE,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[RegisteredModel]:
        return self.models_backend.search_registered_models(
            filter_string=filter_string,
            max_results=max_results,
            order_by=_strings(order_by),
            page_token=page_token,
        )

    def get_latest_versions(
        self, name: str, stages: Sequence[str] | None = None
    ) -> list[ModelVersion]:
        return self.models_backend.get_latest_versions(name, stages=_strings(stages))

    # -- aliases ---------------------------------------------------------------
    def set_registered_model_alias(self, name: str, alias: str, version: int | str) -> None:
        self.models_backend.set_registered_model_alias(name, alias=alias, version=version)

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        self.models_backend.delete_registered_model_alias(name, alias=alias)

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        return self.models_backend.get_model_version_by_alias(name, alias=alias)

    # -- model versions ----------------------------------------------------------
    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None = None,
        tags: Mapping[str, Any] | None = None,
        run_link: str | None = None,
        description: str | None = None,
        await_creation_for: int = 300,
        model_id: str | None = None,
    ) -> ModelVersion:
        """Register ``source`` as the next version of ``name``.

        Versions are ready when this returns, so ``await_creation_for`` (kept for
        MlflowClient's signature) never waits.
        """
        del await_creation_for
        return self.models_backend.create_model_version(
            name,
            source=source,
            run_id=run_id,
            tags=_str_map(tags),
            run_link=run_link,
            description=description,
            model_id=model_id,
        )

    def get_model_version(self, name: str, version: int | str) -> ModelVersion:
        return self.models_backend.get_model_version(name, version=version)

    def get_model_version_download_uri(self, name: str, version: int | str) -> str:
        return self.models_backend.get_model_version_download_uri(name, version=version)

    def update_model_version(
        self, name: str, version: int | str, description: str | None = None
    ) -> ModelVersion:
        return self.models_backend.update_model_version(
            name, version=version, description=description
        )

    def transition_model_version_stage(
        self, name: str, version: int | str, stage: str, archive_existing_versions: bool = False
    ) -> ModelVersion:
        return self.models_backend.transition_model_version_stage(
            name,
            version=version,
            stage=stage,
            archive_existing_versions=archive_existing_versions,
        )

    def delete_model_version(self, name: str, version: int | str) -> None:
        self.models_backend.delete_model_version(name, version=version)

    def _version_or_stage(self, name: str, version: int | str | None, stage: str | None) -> str:
        if version is not None:
            if stage is not None:
                raise InvalidParameterValue("Give a version or a stage, not both")
            return str(version)
        if stage is None:
            raise InvalidParameterValue("A version (or a stage) is required")
        latest = self.get_latest_versions(name, stages=[stage])
        if not latest:
            raise ResourceDoesNotExist(f"No version of model '{name}' in stage '{stage}'")
        return str(max(v.version for v in latest))

    def set_model_version_tag(
        self,
        name: str,
        version: int | str | None = None,
        key: str | None = None,
        value: Any = None,
        stage: str | None = None,
    ) -> None:
        if key is None:
            raise InvalidParameterValue("set_model_version_tag needs a key")
        self.models_backend.set_model_version_tag(
            name, version=self._version_or_stage(name, version, stage), key=key, value=str(value)
        )

    def delete_model_version_tag(
        self,
        name: str,
        version: int | str | None = None,
        key: str | None = None,
        stage: str | None = None,
    ) -> None:
        if key is None:
            raise InvalidParameterValue("delete_model_version_tag needs a key")
        self.models_backend.delete_model_version_tag(
            name, version=self._version_or_stage(name, version, stage), key=key
        )

    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int = MODEL_VERSIONS_PAGE,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[ModelVersion]:
        return self.models_backend.search_model_versions(
            filter_string=filter_string,
            max_results=max_results,
            order_by=_strings(order_by),
            page_token=page_token,
        )
