"""What the registry service needs from its storage (the SQL store implements it)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from mltrail.model_entities import ModelVersion, ModelVersionStage, RegisteredModel


class RegistryStore(Protocol):
    def create_registered_model(
        self,
        name: str,
        *,
        now: int,
        tags: Mapping[str, str] | None = None,
        description: str | None = None,
        user_id: str | None = None,
    ) -> RegisteredModel: ...

    def get_registered_model(self, name: str) -> RegisteredModel: ...

    def rename_registered_model(self, name: str, *, new_name: str, now: int) -> RegisteredModel: ...

    def update_registered_model(
        self, name: str, *, description: str | None, now: int
    ) -> RegisteredModel: ...

    def delete_registered_model(self, name: str) -> None: ...

    def set_registered_model_tag(self, name: str, *, key: str, value: str, now: int) -> None: ...

    def delete_registered_model_tag(self, name: str, *, key: str) -> None: ...

    def search_registered_models(
        self,
        *,
        filter_string: str | None = None,
        order_by: Sequence[str] = (),
        max_results: int = 100,
        offset: int = 0,
        readable_by: tuple[int, int] | None = None,
    ) -> tuple[list[RegisteredModel], bool]: ...

    def set_alias(self, name: str, *, alias: str, version: int, now: int) -> None: ...

    def delete_alias(self, name: str, *, alias: str) -> None: ...

    def get_version_by_alias(self, name: str, *, alias: str) -> ModelVersion: ...

    def create_model_version(
        self,
        name: str,
        *,
        source: str,
        storage_location: str,
        now: int,
        run_id: str | None = None,
        run_link: str | None = None,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
        model_id: str | None = None,
        user_id: str | None = None,
        status: str = "READY",
    ) -> ModelVersion: ...

    def get_model_version(self, name: str, *, version: int) -> ModelVersion: ...

    def update_model_version(
        self, name: str, *, version: int, description: str | None, now: int
    ) -> ModelVersion: ...

    def transition_stage(
        self,
        name: str,
        *,
        version: int,
        stage: ModelVersionStage,
        archive_existing: bool,
        now: int,
    ) -> ModelVersion: ...

    def delete_model_version(self, name: str, *, version: int, now: int) -> None: ...

    def set_model_version_tag(
        self, name: str, *, version: int, key: str, value: str, now: int
    ) -> None: ...

    def delete_model_version_tag(self, name: str, *, version: int, key: str) -> None: ...

    def get_latest_versions(
        self, name: str, *, stages: Sequence[ModelVersionStage] = ()
    ) -> list[ModelVersion]: ...

    def search_model_versions(
        self,
        *,
        filter_string: str | None = None,
        order_by: Sequence[str] = (),
        max_results: int = 10000,
        offset: int = 0,
        readable_by: tuple[int, int] | None = None,
    ) -> tuple[list[ModelVersion], bool]: ...
