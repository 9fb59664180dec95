"""Request and response models of the native API, for validation and the OpenAPI schema.

Responses are built by hand (see ``codec``) and only documented by these models, which
keeps large answers (runs, histories) off pydantic's serialization path.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

FloatOrNonFinite = float | Literal["NaN", "Infinity", "-Infinity"]
ViewTypeName = Literal["ACTIVE_ONLY", "DELETED_ONLY", "ALL"]
RunStatusName = Literal["RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- experiments -------------------------------------------------------------
class ExperimentCreate(_Strict):
    name: str = Field(min_length=1)
    artifact_location: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)


class ExperimentModel(BaseModel):
    experiment_id: str
    name: str
    artifact_location: str
    lifecycle_stage: str
    tags: dict[str, str]
    creation_time: int | None
    last_update_time: int | None


class ExperimentId(BaseModel):
    experiment_id: str


class ExperimentAnswer(BaseModel):
    experiment: ExperimentModel


class ExperimentSearch(_Strict):
    view_type: ViewTypeName = "ACTIVE_ONLY"
    max_results: int = Field(default=1000, ge=1, le=50_000)
    filter: str = ""
    order_by: list[str] = Field(default_factory=list)
    page_token: str | None = None


class ExperimentPage(BaseModel):
    experiments: list[ExperimentModel]
    next_page_token: str | None


class ExperimentUpdate(_Strict):
    name: str = Field(min_length=1)


class TagIn(_Strict):
    key: str = Field(min_length=1)
    value: str


# -- runs --------------------------------------------------------------------
class RunCreate(_Strict):
    experiment_id: str
    start_time: int | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    run_name: str | None = None
    user_id: str | None = None
    run_id: str | None = Field(
        default=None, description="A client-chosen run id (32 hex digits); generated when absent"
    )


class RunInfoModel(BaseModel):
    run_id: str
    experiment_id: str
    run_name: str
    user_id: str
    status: RunStatusName
    start_time: int
    end_time: int | None
    lifecycle_stage: str
    artifact_uri: str


class RunDataModel(BaseModel):
    metrics: dict[str, FloatOrNonFinite]
    params: dict[str, str]
    tags: dict[str, str]


class RunModel(BaseModel):
    info: RunInfoModel
    data: RunDataModel


class RunAnswer(BaseModel):
    run: RunModel


class RunUpdate(_Strict):
    status: RunStatusName | None = None
    end_time: int | None = None
    run_name: str | None = None


class RunInfoAnswer(BaseModel):
    run_info: RunInfoModel


class RunSearch(_Strict):
    experiment_ids: list[str] = Field(min_length=1)
    filter: str = ""
    view_type: ViewTypeName = "ACTIVE_ONLY"
    max_results: int = Field(default=1000, ge=1, le=50_000)
    order_by: list[str] = Field(default_factory=list)
    page_token: str | None = None


class RunPage(BaseModel):
    runs: list[RunModel]
    next_page_token: str | None


# -- logging -----------------------------------------------------------------
class MetricSeries(BaseModel):
    steps: list[int] | None = Field(default=None, description="Defaults to 0 for every point")
    timestamps: list[int] | None = Field(
        default=None, description="Milliseconds since the epoch; defaults to the server's clock"
    )
    values: list[FloatOrNonFinite]


class MetricPoint(BaseModel):
    key: str
    value: FloatOrNonFinite
    timestamp: int | None = None
    step: int = 0


class BatchIn(BaseModel):
    """Bulk logging. ``metrics`` is columnar (one object of arrays per key) or a list of points."""

    metrics: dict[str, MetricSeries] | list[MetricPoint] = Field(default_factory=dict)
    params: dict[str, str] | list[TagIn] = Field(default_factory=dict)
    tags: dict[str, str] | list[TagIn] = Field(default_factory=dict)
    idempotency_key: str | None = Field(
        default=None,
        description="A retried request with the same key is applied once "
        "(also accepted as the Idempotency-Key header)",
    )


class BatchAnswer(BaseModel):
    points: int
    params: int
    tags: int


class MetricHistory(BaseModel):
    key: str
    steps: list[int]
    timestamps: list[int]
    values: list[FloatOrNonFinite]
    next_page_token: str | None = None


class MetricSummaryModel(BaseModel):
    key: str
    value: FloatOrNonFinite
    timestamp: int
    step: int
    min: FloatOrNonFinite | None
    max: FloatOrNonFinite | None
    count: int


class MetricSummaries(BaseModel):
    metrics: list[MetricSummaryModel]


# -- artifacts ---------------------------------------------------------------
class FileInfoModel(BaseModel):
    path: str
    is_dir: bool
    file_size: int | None


class FileList(BaseModel):
    files: list[FileInfoModel]


class UploadAnswer(BaseModel):
    path: str
    bytes: int


class Empty(BaseModel):
    pass
