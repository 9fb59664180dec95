"""The logged-model and model-registry operations every backend offers.

The second protocol beside :class:`mltrail.tracking_api.TrackingAPI`: implemented
in-process by the logged-model and registry services (over SQL) and by the REST backend
of the client (over the native ``/api/v1`` routes), so ``log_model``, ``models:/`` URIs
and ``TrackingClient``'s registry methods work the same whatever the tracking URI is.
A leaf module, like ``tracking_api``: it imports entities only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from mltrail.entities import PagedList
from mltrail.model_entities import (
    DatasetScope,
    LoggedModel,
    LoggedModelStatus,
    ModelOrder,
    ModelVersion,
    RegisteredModel,
)


class ModelsAPI(Protocol):
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
    ) -> LoggedModel: ...

    def get_logged_model(self, model_id: str, *, allow_deleted: bool = False) -> LoggedModel: ...

    def finalize_logged_model(
        self, model_id: str, *, status: LoggedModelStatus | str | int
    ) -> LoggedModel: ...

    def set_logged_model_tags(self, model_id: str, *, tags: Mapping[str, str]) -> None: ...

    def delete_logged_model_tag(self, model_id: str, *, key: str) -> None: ...

    def log_logged_model_params(self, model_id: str, *, params: Mapping[str, str]) -> None: ...

    def delete_logged_model(self, model_id: str) -> None: ...

    def search_logged_models(
        self,
        experiment_ids: Sequence[str],
        *,
        filter_string: str | None = None,
        datasets: Sequence[DatasetScope] = (),
        max_results: int | None = None,
        order_by: Sequence[ModelOrder] = (),
        page_token: str | None = None,
    ) -> PagedList[LoggedModel]: ...

    # -- registered models ---------------------------------------------------
    def create_registered_model(
        self,
        name: str,
        *,
        tags: Mapping[str, str] | None = None,
        description: str | None = None,
    ) -> RegisteredModel: ...

    def get_registered_model(self, name: str) -> RegisteredModel: ...

    def rename_registered_model(self, name: str, *, new_name: str) -> RegisteredModel: ...

    def update_registered_model(self, name: str, *, description: str | None) -> RegisteredModel: ...

    def delete_registered_model(self, name: str) -> None: ...

    def set_registered_model_tag(self, name: str, *, key: str, value: str) -> None: ...

    def delete_registered_model_tag(self, name: str, *, key: str) -> None: ...

    def search_registered_models(
        self,
        *,
        filter_string: str | None = None,
        max_results: int | None = None,
        order_by: Sequence[str] = (),
        page_token: str | None = None,
    ) -> PagedList[RegisteredModel]: ...

    def get_latest_versions(
        self, name: str, *, stages: Sequence[str] = ()
    ) -> list[ModelVersion]: ...

    # -- aliases ---------------------------------------------------------------
    def set_registered_model_alias(self, name: str, *, alias: str, version: int | str) -> None: ...

    def delete_registered_model_alias(self, name: str, *, alias: str) -> None: ...

    def get_model_version_by_alias(self, name: str, *, alias: str) -> ModelVersion: ...

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
    ) -> ModelVersion: ...

    def get_model_version(self, name: str, *, version: int | str) -> ModelVersion: ...

    def get_model_version_download_uri(self, name: str, *, version: int | str) -> str: ...

    def update_model_version(
        self, name: str, *, version: int | str, description: str | None
    ) -> ModelVersion: ...

    def transition_model_version_stage(
        self,
        name: str,
        *,
        version: int | str,
        stage: str,
        archive_existing_versions: bool = False,
    ) -> ModelVersion: ...

    def delete_model_version(self, name: str, *, version: int | str) -> None: ...

    def set_model_version_tag(
        self, name: str, *, version: int | str, key: str, value: str
    ) -> None: ...

    def delete_model_version_tag(self, name: str, *, version: int | str, key: str) -> None: ...

    def search_model_versions(
        self,
        *,
        filter_string: str | None = None,
        max_results: int | None = None,
        order_by: Sequence[str] = (),
        page_token: str | None = None,
    ) -> PagedList[ModelVersion]: ...
