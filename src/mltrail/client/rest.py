"""The REST backend: :class:`mltrail.tracking_api.TrackingAPI` over a tracking server's
native API (``/api/v1``), for ``http://`` and ``https://`` tracking URIs.

Imports neither SQLAlchemy nor the server: a client that logs to a server stays light.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from mltrail.client import rest_codec as codec
from mltrail.client.rest_http import HttpSession
from mltrail.config import Settings
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
from mltrail.errors import ResourceDoesNotExist
from mltrail.tracking_api import MetricColumns
from mltrail.wire import columns_out, split_columns

if TYPE_CHECKING:
    import httpx

API = "/api/v1"
# The server's limit per request; larger batches are sent in parts.
MAX_POINTS_PER_REQUEST = 100_000


def _seg(value: str) -> str:
    """One path segment, percent-encoded (ids come from users and may hold anything)."""
    return quote(str(value), safe="")


class RestBackend:
    """Every TrackingAPI operation as one (or, for huge batches, a few) HTTP requests."""

    def __init__(
        self, uri: str, *, settings: Settings, transport: httpx.BaseTransport | None = None
    ) -> None:
        """``transport`` answers the requests instead of the network (see
        :class:`~mltrail.client.rest_http.HttpSession`)."""
        self.uri = uri.rstrip("/")
        self.settings = settings
        self.http = HttpSession(self.uri, settings=settings, transport=transport)

    def close(self) -> None:
        self.http.close()

    # -- experiments -------------------------------------------------------
    def create_experiment(
        self,
        name: str,
        *,
        artifact_location: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> str:
        body = {"name": name, "artifact_location": artifact_location, "tags": dict(tags or {})}
        return str(self.http.call("POST", f"{API}/experiments", json_body=body)["experiment_id"])

    def get_experiment(self, experiment_id: str) -> Experiment:
        answer = self.http.call("GET", f"{API}/experiments/{_seg(experiment_id)}")
        return codec.experiment_in(answer["experiment"])

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        try:
            answer = self.http.call("GET", f"{API}/experiments/by-name", params={"name": name})
        except ResourceDoesNotExist:
            return None
        return codec.experiment_in(answer["experiment"])

    def search_experiments(
        self,
        *,
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        filter_string: str = "",
        order_by: Sequence[str] = (),
        page_token: str | None = None,
    ) -> PagedList[Experiment]:
        body = {
            "view_type": ViewType.parse(view_type).name,
            "max_results": max_results,
            "filter": filter_string,
            "order_by": list(order_by),
            "page_token": page_token,
        }
        answer = self.http.call("POST", f"{API}/experiments/search", json_body=body)
        return PagedList(
            [codec.experiment_in(e) for e in answer["experiments"]], answer.get("next_page_token")
        )

    def rename_experiment(self, experiment_id: str, *, new_name: str) -> None:
        self.http.call(
            "PATCH", f"{API}/experiments/{_seg(experiment_id)}", json_body={"name": new_name}
        )

    def delete_experiment(self, experiment_id: str) -> None:
        self.http.call("DELETE", f"{API}/experiments/{_seg(experiment_id)}")

    def restore_experiment(self, experiment_id: str) -> None:
        self.http.call("POST", f"{API}/experiments/{_seg(experiment_id)}/restore")

    def set_experiment_tag(self, experiment_id: str, *, key: str, value: str) -> None:
        self.http.call(
            "POST",
            f"{API}/experiments/{_seg(experiment_id)}/tags",
            json_body={"key": key, "value": value},
        )

    def delete_experiment_tag(self, experiment_id: str, *, key: str) -> None:
        self.http.call(
            "DELETE", f"{API}/experiments/{_seg(experiment_id)}/tags", params={"key": key}
        )

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
        body = {
            "experiment_id": str(experiment_id),
            "start_time": start_time,
            "tags": dict(tags or {}),
            "run_name": run_name,
            "user_id": user_id,
            # Chosen here, so that a retry after a lost answer (a server restarted under the
            # request) returns the run the first attempt created instead of a second one.
            "run_id": run_id or uuid.uuid4().hex,
        }
        return codec.run_in(self.http.call("POST", f"{API}/runs", json_body=body)["run"])

    def get_run(self, run_id: str) -> Run:
        return codec.run_in(self.http.call("GET", f"{API}/runs/{_seg(run_id)}")["run"])

    def update_run(
        self,
        run_id: str,
        *,
        status: RunStatus | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
    ) -> RunInfo:
        body: dict[str, Any] = {
            "status": RunStatus.parse(status).value if status is not None else None,
            "end_time": end_time,
            "run_name": run_name,
        }
        answer = self.http.call("PATCH", f"{API}/runs/{_seg(run_id)}", json_body=body)
        return codec.run_info_in(answer["run_info"])

    def delete_run(self, run_id: str) -> None:
        self.http.call("DELETE", f"{API}/runs/{_seg(run_id)}")

    def restore_run(self, run_id: str) -> None:
        self.http.call("POST", f"{API}/runs/{_seg(run_id)}/restore")

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
        body = {
            "experiment_ids": [str(e) for e in experiment_ids],
            "filter": filter_string,
            "view_type": ViewType.parse(view_type).name,
            "max_results": max_results,
            "order_by": list(order_by),
            "page_token": page_token,
        }
        answer = self.http.call("POST", f"{API}/runs/search", json_body=body)
        return PagedList([codec.run_in(r) for r in answer["runs"]], answer.get("next_page_token"))

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
        # Retries resend the same key, so a batch whose answer was lost is applied once; a
        # batch cut into several requests sends each part under ``<key>:<n>``.
        key = idempotency_key or uuid.uuid4().hex
        parts = split_columns(metrics or {}, max_points=MAX_POINTS_PER_REQUEST)
        for index, part in enumerate(parts):
            body: dict[str, Any] = {
                "metrics": columns_out(part),
                "idempotency_key": key if len(parts) == 1 else f"{key}:{index}",
            }
            if index == 0:
                body["params"] = codec.pairs_out(params)
                body["tags"] = codec.pairs_out(tags)
            self.http.call("POST", f"{API}/runs/{_seg(run_id)}/batch", json_body=body)

    def delete_tag(self, run_id: str, *, key: str) -> None:
        self.http.call("DELETE", f"{API}/runs/{_seg(run_id)}/tags", params={"key": key})

    def get_metric_history(
        self,
        run_id: str,
        *,
        key: str,
        max_results: int | None = None,
        page_token: str | None = None,
    ) -> PagedList[Metric]:
        answer = self.http.call(
            "GET",
            f"{API}/runs/{_seg(run_id)}/metrics/history",
            params={"key": key, "max_results": max_results, "page_token": page_token},
        )
        return PagedList(codec.history_in(answer), answer.get("next_page_token"))

    def get_metric_history_sampled(
        self,
        run_id: str,
        *,
        key: str,
        max_points: int,
        start_step: int | None = None,
        end_step: int | None = None,
    ) -> list[Metric]:
        answer = self.http.call(
            "GET",
            f"{API}/runs/{_seg(run_id)}/metrics/history",
            params={
                "key": key,
                "max_points": max_points,
                "start_step": start_step,
                "end_step": end_step,
            },
        )
        return codec.history_in(answer)

    def get_metric_summaries(self, run_id: str) -> list[MetricSummary]:
        answer = self.http.call("GET", f"{API}/runs/{_seg(run_id)}/metrics")
        return [codec.summary_in(s) for s in answer["metrics"]]

    def get_metric_summaries_of_runs(
        self, run_ids: Sequence[str]
    ) -> dict[str, list[MetricSummary]]:
        # The native API answers per run; the bulk form matters only inside the server.
        return {run_id: self.get_metric_summaries(run_id) for run_id in run_ids}
