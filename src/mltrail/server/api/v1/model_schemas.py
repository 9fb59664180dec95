"""Request and response models of the native API's logged-model and registry routes.

As in ``schemas``, answers are built by hand (``model_codec``); these models validate
requests and document the answers in the OpenAPI schema.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from mltrail.server.api.v1.schemas import FloatOrNonFinite


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- logged models -------------------------------------------------------------
class LoggedModelCreate(_Strict):
    experiment_id: str = Field(min_length=1)
    name: str | None = None
    source_run_id: str | None = None
    model_type: str | None = None
    params: dict[str, str] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)
    model_id: str | None = Field(
        default=None,
        description="Keep an existing id ('m-' and 32 hex digits), as an import does; "
        "generated when absent",
    )


class LoggedModelFinalize(_Strict):
    status: str = Field(
        min_length=1, description="LOGGED_MODEL_READY or LOGGED_MODEL_UPLOAD_FAILED"
    )


class LoggedModelTags(_Strict):
    tags: dict[str, str]


class LoggedModelParams(_Strict):
    params: dict[str, str]


class DatasetIn(_Strict):
    name: str = Field(min_length=1)
    digest: str | None = None


class ModelOrderIn(_Strict):
    field_name: str = Field(min_length=1)
    ascending: bool = True
    dataset_name: str | None = None
    dataset_digest: str | None = None


class LoggedModelSearch(_Strict):
    experiment_ids: list[str] = Field(min_length=1)
    filter: str | None = None
    datasets: list[DatasetIn] = Field(default_factory=list)
    order_by: list[ModelOrderIn] = Field(default_factory=list)
    max_results: int | None = Field(default=None, ge=1)
    page_token: str | None = None


class LoggedModelMetricModel(BaseModel):
    key: str
    value: FloatOrNonFinite
    timestamp: int
    step: int
    run_id: str | None
    model_id: str | None
    dataset_name: str | None
    dataset_digest: str | None


class LoggedModelModel(BaseModel):
    model_id: str
    experiment_id: str
    name: str
    artifact_location: str
    creation_timestamp: int
    last_updated_timestamp: int
    status: str
    status_message: str | None
    model_type: str | None
    source_run_id: str | None
    lifecycle_stage: str
    tags: dict[str, str]
    params: dict[str, str]
    metrics: list[LoggedModelMetricModel]


class LoggedModelAnswer(BaseModel):
    model: LoggedModelModel


class LoggedModelPage(BaseModel):
    models: list[LoggedModelModel]
    next_page_token: str | None


# -- registry ------------------------------------------------------------------
class RegisteredModelCreate(_Strict):
    name: str = Field(min_length=1)
    tags: dict[str, str] = Field(default_factory=dict)
    description: str | None = None


class RegisteredModelUpdate(_Strict):
    description: str | None = None


class RegisteredModelRename(_Strict):
    new_name: str = Field(min_length=1)


class RegistrySearch(_Strict):
    filter: str | None = None
    max_results: int | None = Field(default=None, ge=1)
    order_by: list[str] = Field(default_factory=list)
    page_token: str | None = None


class RegistryTagIn(_Strict):
    key: str = Field(min_length=1)
    value: str


class AliasIn(_Strict):
    version: int | str


class ModelVersionCreate(_Strict):
    source: str = Field(min_length=1)
    run_id: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    run_link: str | None = None
    description: str | None = None
    model_id: str | None = None


class ModelVersionUpdate(_Strict):
    description: str | None = None


class StageTransition(_Strict):
    stage: str = Field(min_length=1)
    archive_existing_versions: bool = False


class ModelVersionModel(BaseModel):
    name: str
    version: int
    creation_timestamp: int
    last_updated_timestamp: int
    current_stage: str
    description: str | None
    source: str
    storage_location: str
    run_id: str | None
    run_link: str | None
    model_id: str | None
    user_id: str | None
    status: str
    status_message: str | None
    tags: dict[str, str]
    aliases: list[str]


class RegisteredModelModel(BaseModel):
    name: str
    creation_timestamp: int
    last_updated_timestamp: int
    description: str | None
    user_id: str | None
    tags: dict[str, str]
    aliases: dict[str, int]
    latest_versions: list[ModelVersionModel]


class RegisteredModelAnswer(BaseModel):
    registered_model: RegisteredModelModel


class RegisteredModelPage(BaseModel):
    registered_models: list[RegisteredModelModel]
    next_page_token: str | None


class ModelVersionAnswer(BaseModel):
    model_version: ModelVersionModel


class ModelVersionList(BaseModel):
    model_versions: list[ModelVersionModel]


class ModelVersionPage(BaseModel):
    model_versions: list[ModelVersionModel]
    next_page_token: str | None


class DownloadUri(BaseModel):
    artifact_uri: str
