"""The tracking use cases: validation and defaults in front of a ``TrackingStore``.

Implements :class:`mltrail.tracking_api.TrackingAPI`; the local client backend
and both server APIs call it. Rules that need a transaction (existence, the
'active' state, write-once params, idempotency) are enforced by the store.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit, urlunsplit

from mltrail.artifacts.paths import check_stored_uri
from mltrail.entities import (
    Experiment,
    Metric,
    MetricSummary,
    PagedList,
    Param,
    Run,
    RunInfo,
    RunStatus,
    RunTag,
    ViewType,
)
from mltrail.errors import InvalidParameterValue, shown
from mltrail.service import validation as v
from mltrail.service.metric_columns import count_points, validate_columns
from mltrail.service.names import generate_run_name
from mltrail.store.protocols import TrackingStore
from mltrail.tracking_api import MetricColumns

RUN_NAME_TAG = "mlflow.runName"
USER_TAG = "mlflow.user"
DEFAULT_USER = "unknown"
MAX_SEARCH_RESULTS = 50_000
MAX_HISTORY_PAGE = 1_000_000
MAX_SAMPLED_POINTS = 100_000


def now_ms() -> int:
    return int(time.time() * 1000)


class TrackingService:
    """Every TrackingAPI operation over one store."""

    def __init__(
        self,
        *,
        store: TrackingStore,
        limits: v.BatchLimits | None = None,
        allowed_artifact_roots: Sequence[str] | None = None,
    ) -> None:
        """``allowed_artifact_roots``: where a chosen artifact location may point (a server
        passes its configured roots, since it later reads run files from there); None leaves
        it unrestricted, for a store on the caller's own machine."""
        self.store = store
        self.limits = limits or v.BatchLimits()
        self.allowed_artifact_roots = (
            None if allowed_artifact_roots is None else tuple(allowed_artifact_roots)
        )

    # -- experiments -------------------------------------------------------
    def create_experiment(
        self,
        name: str,
        *,
        artifact_location: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> str:
        v.validate_experiment_name(name)
        if artifact_location is not None:
            v.validate_artifact_location(artifact_location)
            artifact_location = absolute_location(artifact_location)
            if artifact_location and self.allowed_artifact_roots is not None:
                check_stored_uri(
                    artifact_location,
                    allowed_roots=self.allowed_artifact_roots,
                    what="artifact_location",
                )
        tag_values = dict(tags or {})
        for key, value in tag_values.items():
            v.validate_experiment_tag(key, value)
        return self.store.create_experiment(
            name,
            artifact_location=artifact_location or None,
            tags=tag_values,
            creation_time=now_ms(),
        )

    def get_experiment(self, experiment_id: str) -> Experiment:
        return self.store.get_experiment(_experiment_id(experiment_id))

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        if not isinstance(name, str):
            raise InvalidParameterValue(f"Invalid experiment name {name!r}: it must be a string.")
        return self.store.get_experiment_by_name(name)

    def search_experiments(
        self,
        *,
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        filter_string: str = "",
        order_by: Sequence[str] = (),
        page_token: str | None = None,
        readable_by: tuple[int, int] | None = None,
    ) -> PagedList[Experiment]:
        """``readable_by`` (user id, default level) limits the search to what that user may read."""
        return self.store.search_experiments(
            view_type=_view_type(view_type),
            max_results=v.validate_max_results(max_results, limit=MAX_SEARCH_RESULTS),
            filter_string=_filter(filter_string),
            order_by=v.validate_order_by(order_by),
            page_token=page_token,
            readable_by=readable_by,
        )

    def rename_experiment(self, experiment_id: str, *, new_name: str) -> None:
        v.validate_experiment_name(new_name)
        self.store.rename_experiment(
            _experiment_id(experiment_id), new_name=new_name, update_time=now_ms()
        )

    def delete_experiment(self, experiment_id: str) -> None:
        self.store.delete_experiment(_experiment_id(experiment_id), deleted_time=now_ms())

    def restore_experiment(self, experiment_id: str) -> None:
        self.store.restore_experiment(_experiment_id(experiment_id), update_time=now_ms())

    def set_experiment_tag(self, experiment_id: str, *, key: str, value: str) -> None:
        v.validate_experiment_tag(key, value)
        self.store.set_experiment_tag(_experiment_id(experiment_id), key=key, value=value)

    def delete_experiment_tag(self, experiment_id: str, *, key: str) -> None:
        v.validate_key(key)
        self.store.delete_experiment_tag(_experiment_id(experiment_id), key=key)

    # -- runs --------------------------------------------------------------
    def create_run(
        self,
        experiment_id: str,
        *,
        start_time: int | None = None,
        tags: Mapping[str, str] | None = None,
        run_name: str | None = None,
        user_id: str | None = None,
        run_id: str | None = None,
    ) -> Run:
        tag_values = v.validate_tags_mapping(tags)
        if run_id is not None:
            v.validate_run_id(run_id)
        if start_time is not None:
            v.validate_timestamp(start_time, what="start_time")
        name = run_name or tag_values.get(RUN_NAME_TAG) or generate_run_name()
        v.validate_run_name(name)
        if run_name and tag_values.get(RUN_NAME_TAG, run_name) != run_name:
            raise InvalidParameterValue(
                f"Both 'run_name' argument and 'mlflow.runName' tag are specified, but with "
                f"different values (run_name='{run_name}', "
                f"mlflow.runName='{tag_values[RUN_NAME_TAG]}')."
            )
        user = user_id or tag_values.get(USER_TAG) or DEFAULT_USER
        _check_length(user, what="user_id", limit=v.MAX_USER_ID_LENGTH)
        return self.store.create_run(
            _experiment_id(experiment_id),
            run_id=run_id or uuid.uuid4().hex,
            run_name=name,
            user_id=user,
            start_time=now_ms() if start_time is None else int(start_time),
            tags=tag_values,
        )

    def get_run(self, run_id: str) -> Run:
        return self.store.get_run(_run_ref(run_id))

    def update_run(
        self,
        run_id: str,
        *,
        status: RunStatus | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
    ) -> RunInfo:
        parsed_status = _status(status) if status is not None else None
        if end_time is not None:
            v.validate_timestamp(end_time, what="end_time")
        if run_name is not None:
            v.validate_run_name(run_name)
        return self.store.update_run(
            _run_ref(run_id),
            status=parsed_status,
            end_time=None if end_time is None else int(end_time),
            run_name=run_name or None,
        )

    def delete_run(self, run_id: str) -> None:
        self.store.delete_run(_run_ref(run_id), deleted_time=now_ms())

    def restore_run(self, run_id: str) -> None:
        self.store.restore_run(_run_ref(run_id))

    def search_runs(
        self,
        experiment_ids: Sequence[str],
        *,
        filter_string: str = "",
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        order_by: Sequence[str] = (),
        page_token: str | None = None,
    ) -> PagedList[Run]:
        if isinstance(experiment_ids, str):
            experiment_ids = [experiment_ids]
        return self.store.search_runs(
            [_experiment_id(e) for e in experiment_ids],
            filter_string=_filter(filter_string),
            view_type=_view_type(view_type),
            max_results=v.validate_max_results(max_results, limit=MAX_SEARCH_RESULTS),
            order_by=v.validate_order_by(order_by),
            page_token=page_token,
        )

    # -- logging -----------------------------------------------------------
    def log_batch(
        self,
        run_id: str,
        *,
        metrics: MetricColumns | None = None,
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
        idempotency_key: str | None = None,
    ) -> None:
        """Checked and packed column by column (a bad point gets the error the point-by-point
        rules give it), then written in one transaction."""
        columns = metrics or {}
        total = count_points(columns)
        if total > self.limits.max_metrics:
            limit = self.limits.max_metrics
            raise InvalidParameterValue(
                f"A batch logging request can contain at most {limit} metrics. Got {total} "
                "metrics. Please split up metrics across multiple requests and try again."
            )
        v.validate_batch(metrics=(), params=params, tags=tags, limits=self.limits)
        arrays = validate_columns(columns)
        if idempotency_key is not None:
            _check_length(idempotency_key, what="idempotency_key", limit=128, allow_empty=False)
        if not (total or params or tags):
            self.store.get_run(_run_ref(run_id))  # still report a missing run
            return
        self.store.write_batch(
            _run_ref(run_id),
            columns={k: a for k, a in arrays.items() if len(a[2])},
            params=params,
            tags=tags,
            idempotency_key=idempotency_key,
        )

    def delete_tag(self, run_id: str, *, key: str) -> None:
        v.validate_key(key)
        self.store.delete_tag(_run_ref(run_id), key=key)

    def get_metric_history(
        self,
        run_id: str,
        *,
        key: str,
        max_results: int | None = None,
        page_token: str | None = None,
    ) -> PagedList[Metric]:
        v.validate_key(key, what="metric_key")
        if max_results is not None:
            v.validate_max_results(max_results, limit=MAX_HISTORY_PAGE)
        return self.store.get_metric_history(
            _run_ref(run_id), key=key, max_results=max_results, page_token=page_token
        )

    def get_metric_history_sampled(
        self,
        run_id: str,
        *,
        key: str,
        max_points: int,
        start_step: int | None = None,
        end_step: int | None = None,
    ) -> list[Metric]:
        v.validate_key(key, what="metric_key")
        v.validate_max_results(max_points, limit=MAX_SAMPLED_POINTS, what="max_points")
        for value, what in ((start_step, "start_step"), (end_step, "end_step")):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise InvalidParameterValue(
                    f"Invalid value {shown(value)} for '{what}': not an integer"
                )
        if start_step is not None and end_step is not None and end_step < start_step:
            raise InvalidParameterValue(
                f"end_step ({end_step}) must be greater than or equal to start_step ({start_step})"
            )
        return self.store.get_metric_history_sampled(
            _run_ref(run_id),
            key=key,
            max_points=max_points,
            start_step=start_step,
            end_step=end_step,
        )

    def get_metric_summaries(self, run_id: str) -> list[MetricSummary]:
        return self.store.get_metric_summaries(_run_ref(run_id))

    def get_metric_summaries_of_runs(
        self, run_ids: Sequence[str]
    ) -> dict[str, list[MetricSummary]]:
        return self.store.get_metric_summaries_of_runs([_run_ref(r) for r in run_ids])


def absolute_location(location: str) -> str:
    """A relative local path (``my_location``, ``file:my_location``) made absolute against the
    working directory, as MLflow's ``resolve_uri_if_local`` does; anything else unchanged."""
    parsed = urlsplit(location)
    if parsed.scheme not in ("", "file") or parsed.netloc or not parsed.path:
        return location
    if PurePosixPath(parsed.path).is_absolute():
        return location
    absolute = (Path.cwd() / parsed.path).as_posix()
    return absolute if not parsed.scheme else urlunsplit(parsed._replace(path=absolute))


def _experiment_id(experiment_id: object) -> str:
    if isinstance(experiment_id, bool) or not isinstance(experiment_id, str | int):
        raise InvalidParameterValue(
            f"Invalid value {experiment_id!r} for parameter 'experiment_id' supplied. "
            f"Hint: Value was of type '{type(experiment_id).__name__}'."
        )
    return str(experiment_id)


def _run_ref(run_id: object) -> str:
    """A run id to look up: any non-empty string (unknown ones are 'not found')."""
    if not isinstance(run_id, str) or not run_id:
        raise InvalidParameterValue(
            f"Invalid value {run_id!r} for parameter 'run_id' supplied. "
            f"Hint: Value was of type '{type(run_id).__name__}'."
        )
    return run_id


def _status(status: object) -> RunStatus:
    try:
        return RunStatus.parse(status)  # type: ignore[arg-type]
    except (KeyError, ValueError, IndexError, TypeError) as exc:
        raise InvalidParameterValue(f"Invalid run status {status!r}") from exc


def _view_type(view_type: object) -> ViewType:
    try:
        return ViewType.parse(view_type)  # type: ignore[arg-type]
    except (KeyError, ValueError, TypeError) as exc:
        raise InvalidParameterValue(f"Invalid view_type {view_type!r}") from exc


def _filter(filter_string: object) -> str:
    if filter_string is None:
        return ""
    if not isinstance(filter_string, str):
        raise InvalidParameterValue(f"Invalid filter {filter_string!r}: it must be a string.")
    return filter_string


def _check_length(value: object, *, what: str, limit: int, allow_empty: bool = True) -> None:
    if not isinstance(value, str) or len(value) > limit or (not allow_empty and not value):
        raise InvalidParameterValue(
            f"Invalid value for '{what}': expected a string of at most {limit} characters."
        )
