"""``TrackingClient``: the explicit client, with MlflowClient's method names and signatures.

Every call goes straight to the backend (no queue): errors are raised at the call site.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mltrail.client.backends import get_backend
from mltrail.client.metric_values import metric_number
from mltrail.client.registry_client import ModelRegistryMixin
from mltrail.client.uris import current_tracking_uri, resolve_tracking_uri
from mltrail.config import Settings, load_settings
from mltrail.entities import (
    Experiment,
    FileInfo,
    Metric,
    PagedList,
    Param,
    Run,
    RunInfo,
    RunStatus,
    RunTag,
    ViewType,
)
from mltrail.errors import InvalidParameterValue
from mltrail.tracking_api import TrackingAPI
from mltrail.wire import columns_of

if TYPE_CHECKING:
    from mltrail.artifacts.base import ArtifactStore
    from mltrail.client.artifact_ops import Upload


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def _order(order_by: Sequence[str] | str | None) -> tuple[str, ...]:
    if order_by is None:
        return ()
    if isinstance(order_by, str):
        return (order_by,)
    return tuple(order_by)


def _str_map(tags: Mapping[str, Any] | None) -> dict[str, str] | None:
    if tags is None:
        return None
    return {str(k): str(v) for k, v in tags.items()}


class TrackingClient(ModelRegistryMixin):
    """A client for one tracking URI (default: the one the fluent API uses).

    Logged-model and model-registry methods come from :class:`ModelRegistryMixin`.
    """

    def __init__(self, tracking_uri: str | None = None) -> None:
        self._tracking_uri = (
            current_tracking_uri() if tracking_uri is None else resolve_tracking_uri(tracking_uri)
        )
        self._settings: Settings = load_settings()
        self._backend: TrackingAPI = get_backend(self._tracking_uri)

    @property
    def tracking_uri(self) -> str:
        return self._tracking_uri

    @property
    def backend(self) -> TrackingAPI:
        return self._backend

    # -- experiments -------------------------------------------------------
    def create_experiment(
        self,
        name: str,
        artifact_location: str | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> str:
        return self._backend.create_experiment(
            name, artifact_location=artifact_location, tags=_str_map(tags)
        )

    def get_experiment(self, experiment_id: str) -> Experiment:
        return self._backend.get_experiment(str(experiment_id))

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        return self._backend.get_experiment_by_name(name)

    def search_experiments(
        self,
        view_type: ViewType | int | str = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        filter_string: str | None = None,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Experiment]:
        return self._backend.search_experiments(
            view_type=ViewType.parse(view_type),
            max_results=max_results,
            filter_string=filter_string or "",
            order_by=_order(order_by),
            page_token=page_token,
        )

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        self._backend.rename_experiment(str(experiment_id), new_name=new_name)

    def delete_experiment(self, experiment_id: str) -> None:
        self._backend.delete_experiment(str(experiment_id))

    def restore_experiment(self, experiment_id: str) -> None:
        self._backend.restore_experiment(str(experiment_id))

    def set_experiment_tag(self, experiment_id: str, key: str, value: Any) -> None:
        self._backend.set_experiment_tag(str(experiment_id), key=key, value=str(value))

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        self._backend.delete_experiment_tag(str(experiment_id), key=key)

    # -- runs --------------------------------------------------------------
    def create_run(
        self,
        experiment_id: str,
        start_time: int | None = None,
        tags: Mapping[str, Any] | None = None,
        run_name: str | None = None,
    ) -> Run:
        from mltrail.client.context import current_user

        return self._backend.create_run(
            str(experiment_id),
            start_time=start_time if start_time is not None else now_ms(),
            tags=_str_map(tags),
            run_name=run_name,
            user_id=current_user(),
        )

    def get_run(self, run_id: str) -> Run:
        return self._backend.get_run(run_id)

    def update_run(
        self, run_id: str, status: RunStatus | str | None = None, name: str | None = None
    ) -> None:
        parsed = RunStatus.parse(status) if status is not None else None
        end_time = now_ms() if parsed is not None and parsed.is_terminated else None
        self._backend.update_run(run_id, status=parsed, end_time=end_time, run_name=name)

    def set_terminated(
        self, run_id: str, status: RunStatus | str | None = "FINISHED", end_time: int | None = None
    ) -> RunInfo:
        parsed = RunStatus.parse(status or "FINISHED")
        return self._backend.update_run(
            run_id, status=parsed, end_time=end_time if end_time is not None else now_ms()
        )

    def delete_run(self, run_id: str) -> None:
        self._backend.delete_run(run_id)

    def restore_run(self, run_id: str) -> None:
        self._backend.restore_run(run_id)

    def search_runs(
        self,
        experiment_ids: Sequence[str] | str,
        filter_string: str = "",
        run_view_type: ViewType | int | str = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Run]:
        ids = [experiment_ids] if isinstance(experiment_ids, str) else list(experiment_ids)
        return self._backend.search_runs(
            [str(i) for i in ids],
            filter_string=filter_string or "",
            view_type=ViewType.parse(run_view_type),
            max_results=max_results,
            order_by=_order(order_by),
            page_token=page_token,
        )

    # -- logging -----------------------------------------------------------
    def log_metric(
        self,
        run_id: str,
        key: str,
        value: float,
        timestamp: int | None = None,
        step: int | None = None,
    ) -> None:
        metric = make_metric(key, value, timestamp=timestamp, step=step)
        self._backend.log_batch(run_id, metrics=columns_of([metric]))

    def log_param(self, run_id: str, key: str, value: Any) -> Any:
        self._backend.log_batch(run_id, params=[make_param(key, value)])
        return value

    def set_tag(self, run_id: str, key: str, value: Any) -> None:
        self._backend.log_batch(run_id, tags=[make_tag(key, value)])

    def delete_tag(self, run_id: str, key: str) -> None:
        self._backend.delete_tag(run_id, key=key)

    def log_batch(
        self,
        run_id: str,
        metrics: Iterable[Metric] = (),
        params: Iterable[Param] = (),
        tags: Iterable[RunTag] = (),
    ) -> None:
        """Log many values; long lists go in calls of ``batch_max_points`` items."""
        from mltrail.client.batch_requests import MAX_PARAMS_TAGS_PER_BATCH, send_batch

        size = max(1, self._settings.batch_max_points)
        metric_list, param_list, tag_list = list(metrics), list(params), list(tags)
        # Params and tags first, in calls of up to 100 of each (MLflow's per-request limit).
        small = min(size, MAX_PARAMS_TAGS_PER_BATCH)
        for start in range(0, max(len(param_list), len(tag_list)), small):
            send_batch(
                self._backend,
                run_id,
                params=param_list[start : start + small],
                tags=tag_list[start : start + small],
            )
        # Rows become columns here, at the edge: from here to the store points travel so.
        for start in range(0, len(metric_list), size):
            send_batch(self._backend, run_id, metrics=columns_of(metric_list[start : start + size]))

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        history: list[Metric] = []
        token: str | None = None
        while True:
            page = self._backend.get_metric_history(run_id, key=key, page_token=token)
            history.extend(page)
            token = page.token
            if not token:
                return history

    # -- artifacts ---------------------------------------------------------
    def artifact_store(self, run_id: str) -> ArtifactStore:
        """The artifact store of a run (rooted at its artifact URI)."""
        from mltrail.client.artifact_ops import open_run_artifacts

        run = self._backend.get_run(run_id)
        return open_run_artifacts(
            run.info.artifact_uri, tracking_uri=self._tracking_uri, settings=self._settings
        )

    def log_artifact(
        self, run_id: str, local_path: str | os.PathLike[str], artifact_path: str | None = None
    ) -> None:
        from mltrail.client.artifact_ops import file_upload

        self._upload(run_id, file_upload(local_path, artifact_path))

    def log_artifacts(
        self, run_id: str, local_dir: str | os.PathLike[str], artifact_path: str | None = None
    ) -> None:
        from mltrail.client.artifact_ops import dir_upload

        self._upload(run_id, dir_upload(local_dir, artifact_path))

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        if not isinstance(text, str):
            raise InvalidParameterValue(f"log_text takes a str, got {type(text).__name__}")
        self._upload_bytes(run_id, text.encode("utf-8"), artifact_file)

    def log_dict(self, run_id: str, dictionary: Any, artifact_file: str) -> None:
        """Save ``dictionary`` as YAML (``.yaml``/``.yml``) or JSON (any other extension)."""
        if artifact_file.lower().endswith((".yaml", ".yml")):
            import yaml

            text = yaml.safe_dump(dictionary, default_flow_style=False, sort_keys=False)
        else:
            try:
                text = json.dumps(dictionary, indent=2)
            except (TypeError, ValueError) as exc:
                raise InvalidParameterValue(
                    f"log_dict: value is not JSON-serializable: {exc}"
                ) from exc
        self._upload_bytes(run_id, text.encode("utf-8"), artifact_file)

    def log_figure(self, run_id: str, figure: Any, artifact_file: str) -> None:
        from mltrail.client.images import figure_bytes

        self._upload_bytes(run_id, figure_bytes(figure, artifact_file), artifact_file)

    def log_image(self, run_id: str, image: Any, artifact_file: str) -> None:
        from mltrail.client.images import image_bytes

        self._upload_bytes(run_id, image_bytes(image, artifact_file), artifact_file)

    def _upload_bytes(self, run_id: str, data: bytes, artifact_file: str) -> None:
        from mltrail.client.artifact_ops import bytes_upload

        self._upload(run_id, bytes_upload(data, artifact_file))

    def _upload(self, run_id: str, upload: Upload) -> None:
        """Send ``upload`` to the run's artifacts; a server that cannot take it now gets it
        from the offline spool later."""
        from mltrail.client.artifact_spool import upload_or_keep

        upload_or_keep(
            self._backend,
            run_id,
            upload,
            open_store=lambda: self.artifact_store(run_id),
            settings=self._settings,
        )

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[FileInfo]:
        from mltrail.client.artifact_ops import list_files

        return list_files(self.artifact_store(run_id), path)

    def download_artifacts(
        self, run_id: str, path: str, dst_path: str | os.PathLike[str] | None = None
    ) -> str:
        from mltrail.client.artifact_ops import download

        return download(self.artifact_store(run_id), path, dst_path)


def make_metric(
    key: str, value: Any, *, timestamp: int | None = None, step: int | None = None
) -> Metric:
    """A Metric from user input, checked for type; ``step=None`` is step 0 (MLflow's default)."""
    if not isinstance(key, str):
        raise InvalidParameterValue(f"Metric key must be a string, got {type(key).__name__}")
    return Metric(
        key,
        metric_number(key, value),
        int(timestamp) if timestamp is not None else now_ms(),
        _step(step, key),
    )


def _step(step: Any, key: str) -> int:
    if step is None:
        return 0
    if isinstance(step, bool) or not isinstance(step, int):
        try:
            if float(step) != int(step):
                raise ValueError(step)
            return int(step)
        except (TypeError, ValueError, OverflowError) as exc:
            raise InvalidParameterValue(
                f"Got invalid step {step!r} for metric {key!r} (expected an integer)"
            ) from exc
    return step


def make_param(key: str, value: Any) -> Param:
    if not isinstance(key, str):
        raise InvalidParameterValue(f"Param key must be a string, got {type(key).__name__}")
    return Param(key, str(value))


def make_tag(key: str, value: Any) -> RunTag:
    if not isinstance(key, str):
        raise InvalidParameterValue(f"Tag key must be a string, got {type(key).__name__}")
    return RunTag(key, str(value))
