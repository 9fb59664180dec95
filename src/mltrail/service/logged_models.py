"""Logged-model use cases: validation, ids and artifact locations in front of the store.

A logged model belongs to an experiment (and usually to the run that produced it);
its files live at ``<experiment artifact_location>/models/<model_id>/artifacts``.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Protocol

from mltrail.entities import LifecycleStage, PagedList, Param
from mltrail.errors import InvalidParameterValue
from mltrail.model_entities import (
    DatasetScope,
    LoggedModel,
    LoggedModelMetric,
    LoggedModelStatus,
    ModelOrder,
)
from mltrail.paging import decode_token, encode_token
from mltrail.service import validation as v
from mltrail.service.names import generate_run_name
from mltrail.tracking_api import TrackingAPI

MAX_SEARCH_RESULTS = 1000
MAX_PARAMS_PER_REQUEST = 100
MAX_NAME_LENGTH = 500
MODEL_ID = re.compile(r"m-[0-9a-f]{32}")


def now_ms() -> int:
    return int(time.time() * 1000)


class LoggedModelStore(Protocol):
    def create(
        self,
        model_id: str,
        *,
        experiment_id: str,
        name: str,
        artifact_location: str,
        now: int,
        source_run_id: str | None = None,
        model_type: str | None = None,
        params: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> LoggedModel: ...

    def get(self, model_id: str, *, allow_deleted: bool = False) -> LoggedModel: ...

    def finalize(self, model_id: str, *, status: LoggedModelStatus, now: int) -> LoggedModel: ...

    def set_tags(self, model_id: str, *, tags: Mapping[str, str], now: int) -> None: ...

    def log_params(self, model_id: str, *, params: Mapping[str, str], now: int) -> None: ...

    def delete_tag(self, model_id: str, *, key: str, now: int) -> None: ...

    def delete(self, model_id: str, *, now: int) -> None: ...

    def log_metrics(self, model_id: str, *, metrics: Sequence[LoggedModelMetric]) -> None: ...

    def search(
        self,
        *,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        datasets: Sequence[DatasetScope] = (),
        order_by: Sequence[ModelOrder] = (),
        max_results: int = 100,
        offset: int = 0,
    ) -> tuple[list[LoggedModel], bool]: ...


def model_artifact_location(experiment_artifact_location: str, model_id: str) -> str:
    return f"{experiment_artifact_location.rstrip('/')}/models/{model_id}/artifacts"


def _tags(tags: Mapping[str, str] | None) -> dict[str, str]:
    return v.validate_tags_mapping(tags)


def _params(params: Mapping[str, str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in (params or {}).items():
        v.validate_param(Param(key, value))
        out[key] = value
    return out


class LoggedModelService:
    def __init__(self, *, store: LoggedModelStore, tracking: TrackingAPI) -> None:
        self.store = store
        self.tracking = tracking

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
        """``model_id``: keep an id the model already has elsewhere (an import); else new."""
        if model_id is not None and not MODEL_ID.fullmatch(model_id):
            raise InvalidParameterValue(
                f"Invalid logged model id {model_id!r}: expected 'm-' and 32 hex digits"
            )
        experiment = self.tracking.get_experiment(experiment_id)
        if experiment.lifecycle_stage != LifecycleStage.ACTIVE.value:
            raise InvalidParameterValue(
                f"The experiment {experiment_id} must be in the 'active' state. "
                f"Current state is {experiment.lifecycle_stage}."
            )
        # The source run is recorded as given, as MLflow does: an id the server does not
        # know (or a run of another experiment) is kept, the model simply has no run link.
        if name is not None and len(name) > MAX_NAME_LENGTH:
            raise InvalidParameterValue(
                f"Logged model name exceeds the maximum length of {MAX_NAME_LENGTH} characters."
            )
        model_id = model_id or f"m-{uuid.uuid4().hex}"
        return self.store.create(
            model_id,
            experiment_id=experiment.experiment_id,
            name=name or generate_run_name(),
            artifact_location=model_artifact_location(experiment.artifact_location, model_id),
            now=now_ms(),
            source_run_id=source_run_id or None,
            model_type=model_type or None,
            params=_params(params),
            tags=_tags(tags),
        )

    def get_logged_model(self, model_id: str, *, allow_deleted: bool = False) -> LoggedModel:
        return self.store.get(model_id, allow_deleted=allow_deleted)

    def finalize_logged_model(
        self, model_id: str, *, status: LoggedModelStatus | str | int
    ) -> LoggedModel:
        parsed = LoggedModelStatus.parse(status)
        if parsed is LoggedModelStatus.UNSPECIFIED:
            raise InvalidParameterValue(
                "A logged model is finalized as LOGGED_MODEL_READY or LOGGED_MODEL_UPLOAD_FAILED"
            )
        return self.store.finalize(model_id, status=parsed, now=now_ms())

    def set_logged_model_tags(self, model_id: str, *, tags: Mapping[str, str]) -> None:
        self.store.set_tags(model_id, tags=_tags(tags), now=now_ms())

    def delete_logged_model_tag(self, model_id: str, *, key: str) -> None:
        self.store.delete_tag(model_id, key=key, now=now_ms())

    def log_logged_model_params(self, model_id: str, *, params: Mapping[str, str]) -> None:
        if len(params) > MAX_PARAMS_PER_REQUEST:
            raise InvalidParameterValue(
                f"A request can log at most {MAX_PARAMS_PER_REQUEST} params on a logged model. "
                f"Got {len(params)} params."
            )
        self.store.log_params(model_id, params=_params(params), now=now_ms())

    def delete_logged_model(self, model_id: str) -> None:
        self.store.delete(model_id, now=now_ms())

    def log_model_metrics(self, model_id: str, *, metrics: Sequence[LoggedModelMetric]) -> None:
        """Link metrics to a model; a run's log-batch calls this for metrics with ``model_id``."""
        for metric in metrics:
            v.validate_key(metric.key, what="key")
        self.store.log_metrics(model_id, metrics=metrics)

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
        limit = v.validate_max_results(
            100 if max_results is None else max_results, limit=MAX_SEARCH_RESULTS
        )
        for dataset in datasets:
            if not dataset.name:
                raise InvalidParameterValue("A dataset in a logged-model search needs a name")
        for order in order_by:
            if not order.field_name:
                raise InvalidParameterValue("order_by entries need a field_name")
        offset = decode_token(page_token)
        models, more = self.store.search(
            experiment_ids=list(experiment_ids),
            filter_string=filter_string,
            datasets=datasets,
            order_by=order_by,
            max_results=limit,
            offset=offset,
        )
        return PagedList(models, encode_token(offset + len(models)) if more else None)
