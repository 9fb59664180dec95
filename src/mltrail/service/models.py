"""The logged-model and registry services behind one :class:`mltrail.models_api.ModelsAPI`.

What the in-process client backend and the native API's model routes call. The two
services may be their permission-checked versions (the server with auth on wraps them),
which keep the same method names and arguments.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from mltrail.entities import PagedList
from mltrail.model_entities import (
    DatasetScope,
    LoggedModel,
    LoggedModelStatus,
    ModelOrder,
    ModelVersion,
    RegisteredModel,
)
from mltrail.service.logged_models import LoggedModelService
from mltrail.service.registry import RegistryService


class ModelsService:
    def __init__(self, *, logged_models: LoggedModelService, registry: RegistryService) -> None:
        self.logged_models = logged_models
        self.registry = registry

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
        return self.logged_models.create_logged_model(
            experiment_id,
            name=name,
            source_run_id=source_run_id,
            model_type=model_type,
            params=params,
            tags=tags,
            model_id=model_id,
        )

    def get_logged_model(self, model_id: str, *, allow_deleted: bool = False) -> LoggedModel:
        return self.logged_models.get_logged_model(model_id, allow_deleted=allow_deleted)

    def finalize_logged_model(
        self, model_id: str, *, status: LoggedModelStatus | str | int
    ) -> LoggedModel:
        return self.logged_models.finalize_logged_model(model_id, status=status)

    def set_logged_model_tags(self, model_id: str, *, tags: Mapping[str, str]) -> None:
        self.logged_models.set_logged_model_tags(model_id, tags=tags)

    def delete_logged_model_tag(self, model_id: str, *, key: str) -> None:
        self.logged_models.delete_logged_model_tag(model_id, key=key)

    def log_logged_model_params(self, model_id: str, *, params: Mapping[str, str]) -> None:
        self.logged_models.log_logged_model_params(model_id, params=params)

    def delete_logged_model(self, model_id: str) -> None:
        self.logged_models.delete_logged_model(model_id)

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
        return self.logged_models.search_logged_models(
            experiment_ids,
            filter_string=filter_string,
            datasets=datasets,
            max_results=max_results,
            order_by=order_by,
            page_token=page_token,
        )

    # -- registered models ---------------------------------------------------
    def create_registered_model(
        self,
        name: str,
        *,
        tags: Mapping[str, str] | None = None,
        description: str | None = None,
    ) -> RegisteredModel:
        return self.registry.create_registered_model(name, tags=tags, description=description)

    def get_registered_model(self, name: str) -> RegisteredModel:
        return self.registry.get_registered_model(name)

    def rename_registered_model(self, name: str, *, new_name: str) -> RegisteredModel:
        return self.registry.rename_registered_model(name, new_name=new_name)

    def update_registered_model(self, name: str, *, description: str | None) -> RegisteredModel:
        return self.registry.update_registered_model(name, description=description)

    def delete_registered_model(self, name: str) -> None:
        self.registry.delete_registered_model(name)

    def set_registered_model_tag(self, name: str, *, key: str, value: str) -> None:
        self.registry.set_registered_model_tag(name, key=key, value=value)

    def delete_registered_model_tag(self, name: str, *, key: str) -> None:
        self.registry.delete_registered_model_tag(name, key=key)

    def search_registered_models(
        self,
        *,
        filter_string: str | None = None,
        max_results: int | None = None,
        order_by: Sequence[str] = (),
        page_token: str | None = None,
    ) -> PagedList[RegisteredModel]:
        return self.registry.search_registered_models(
            filter_string=filter_string,
            max_results=max_results,
            order_by=order_by,
            page_token=page_token,
        )

    def get_latest_versions(self, name: str, *, stages: Sequence[str] = ()) -> list[ModelVersion]:
        return self.registry.get_latest_versions(name, stages=stages)

    # -- aliases ---------------------------------------------------------------
    def set_registered_model_alias(self, name: str, *, alias: str, version: int | str) -> None:
        self.registry.set_registered_model_alias(name, alias=alias, version=version)

    def delete_registered_model_alias(self, name: str, *, alias: str) -> None:
        self.registry.delete_registered_model_alias(name, alias=alias)

    def get_model_version_by_alias(self, name: str, *, alias: str) -> ModelVersion:
        return self.registry.get_model_version_by_alias(name, alias=alias)

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
        return self.registry.create_model_version(
            name,
            source=source,
            run_id=run_id,
            tags=tags,
            run_link=run_link,
            description=description,
            model_id=model_id,
        )

    def get_model_version(self, name: str, *, version: int | str) -> ModelVersion:
        return self.registry.get_model_version(name, version=version)

    def get_model_version_download_uri(self, name: str, *, version: int | str) -> str:
        return self.registry.get_model_version_download_uri(name, version=version)

    def update_model_version(
        self, name: str, *, version: int | str, description: str | None
    ) -> ModelVersion:
        return self.registry.update_model_version(name, version=version, description=description)

    def transition_model_version_stage(
        self,
        name: str,
        *,
        version: int | str,
        stage: str,
        archive_existing_versions: bool = False,
    ) -> ModelVersion:
        return self.registry.transition_model_version_stage(
            name, version=version, stage=stage, archive_existing_versions=archive_existing_versions
        )

    def delete_model_version(self, name: str, *, version: int | str) -> None:
        self.registry.delete_model_version(name, version=version)

    def set_model_version_tag(self, name: str, *, version: int | str, key: str, value: str) -> None:
        self.registry.set_model_version_tag(name, version=version, key=key, value=value)

    def delete_model_version_tag(self, name: str, *, version: int | str, key: str) -> None:
        self.registry.delete_model_version_tag(name, version=version, key=key)

    def search_model_versions(
        self,
        *,
        filter_string: str | None = None,
        max_results: int | None = None,
        order_by: Sequence[str] = (),
        page_token: str | None = None,
    ) -> PagedList[ModelVersion]:
        return self.registry.search_model_versions(
            filter_string=filter_string,
            max_results=max_results,
            order_by=order_by,
            page_token=page_token,
        )
