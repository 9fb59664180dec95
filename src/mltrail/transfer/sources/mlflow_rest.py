"""A running MLflow server read over its REST API (``/api/2.0/mlflow``).

The slow path, for when only the server is reachable: runs come from ``runs/search``,
every metric history from ``metrics/get-history`` (25,000 points a page), proxied
artifacts from ``/api/2.0/mlflow-artifacts``. Credentials are MLflow's own variables
(``MLFLOW_TRACKING_USERNAME``/``PASSWORD`` or ``MLFLOW_TRACKING_TOKEN``).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import quote, urlparse

import httpx

from mltrail.config import Settings
from mltrail.model_entities import LoggedModel, LoggedModelMetric, LoggedModelStatus, ModelVersion
from mltrail.store.sql.metrics import Series
from mltrail.transfer.errors import NotSourceData, SourceCredentials, SourceUnreachable
from mltrail.transfer.records import (
    ACTIVE,
    ArtifactFile,
    DatasetInput,
    ExperimentRecord,
    RegisteredModelRecord,
    RunRecord,
    digest,
)
from mltrail.transfer.sources.base import SeriesCollector
from mltrail.transfer.sources.locations import LocationReader, UnreadableLocation
from mltrail.transfer.sources.mlflow_sql_models import model_id_of_source

API = "/api/2.0/mlflow"
ARTIFACTS_API = "/api/2.0/mlflow-artifacts/artifacts"
HISTORY_PAGE = 25_000
SEARCH_PAGE = 1_000
ATTEMPTS = 4
_PROXIED = ("mlflow-artifacts", "mltrail-artifacts")


def _float(value: Any) -> float:
    if isinstance(value, str):
        return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}.get(
            value, float(value) if value else math.nan
        )
    return float(value)


def _pairs(items: Any) -> dict[str, str]:
    return {str(i["key"]): str(i.get("value", "")) for i in items or []}


class MlflowRestSource:
    counts_are_cheap = False

    def __init__(self, url: str, *, settings: Settings) -> None:
        self.url = url.rstrip("/")
        self.label = f"MLflow server {self.url}"
        headers = {"User-Agent": "mltrail-import"}
        auth: httpx.Auth | None = None
        if settings.mlflow_tracking_token:
            headers["Authorization"] = f"Bearer {settings.mlflow_tracking_token}"
        elif settings.mlflow_tracking_username or settings.mlflow_tracking_password:
            auth = httpx.BasicAuth(
                settings.mlflow_tracking_username, settings.mlflow_tracking_password
            )
        self._http = httpx.Client(
            base_url=self.url,
            headers=headers,
            auth=auth,
            timeout=httpx.Timeout(settings.http_timeout),
            verify=not settings.mlflow_tracking_insecure_tls,
        )
        self._reader = LocationReader(settings=settings)
        self._counts: dict[str, dict[str, int]] = {}
        self._latest: dict[str, list[dict[str, Any]]] = {}
        try:
            self._call("POST", "experiments/search", {"max_results": 1, "view_type": "ALL"})
        except BaseException:
            self._http.close()
            raise

    # -- HTTP --------------------------------------------------------------------

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        for attempt in range(ATTEMPTS):
            try:
                response = self._http.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                if attempt == ATTEMPTS - 1:
                    raise SourceUnreachable(
                        f"Cannot reach the MLflow server at {self.url}: {type(exc).__name__}: {exc}"
                    ) from exc
                time.sleep(0.2 * 2**attempt)
                continue
            if response.status_code in (429, 502, 503, 504) and attempt < ATTEMPTS - 1:
                time.sleep(0.2 * 2**attempt)
                continue
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    def _call(self, method: str, endpoint: str, body: dict[str, Any] | None = None) -> Any:
        path = f"{API}/{endpoint}"
        if method == "GET":
            response = self._send(method, path, params=body or {})
        else:
            response = self._send(method, path, json=body or {})
        self._check(response, path)
        try:
            return response.json() if response.content else {}
        except ValueError as exc:
            raise NotSourceData(
                f"{self.url} answered {path} with something that is not JSON: it is not an "
                "MLflow server"
            ) from exc

    def _check(self, response: httpx.Response, path: str) -> None:
        if response.status_code in (401, 403):
            raise SourceCredentials(
                f"The MLflow server at {self.url} refused the request {path} "
                f"(HTTP {response.status_code}): check MLFLOW_TRACKING_USERNAME and "
                "MLFLOW_TRACKING_PASSWORD, or MLFLOW_TRACKING_TOKEN"
            )
        if response.status_code == 404 and path.endswith("experiments/search"):
            raise NotSourceData(f"{self.url} does not answer MLflow's REST API ({path}: 404)")
        if response.status_code >= 400:
            message = response.text.strip()[:300]
            with contextlib.suppress(ValueError, AttributeError):
                message = str(response.json().get("message") or message)
            raise NotSourceData(
                f"The MLflow server at {self.url} answered {path} with HTTP "
                f"{response.status_code}: {message}"
            )

    def _paged(self, method: str, endpoint: str, body: dict[str, Any], field: str) -> list[Any]:
        out: list[Any] = []
        token: str | None = None
        while True:
            page = self._call(
                method, endpoint, {**body, **({"page_token": token} if token else {})}
            )
            out.extend(page.get(field, []))
            token = page.get("next_page_token")
            if not token:
                return out

    # -- experiments and runs ------------------------------------------------------

    def experiments(self) -> list[ExperimentRecord]:
        items = self._paged(
            "POST",
            "experiments/search",
            {"max_results": SEARCH_PAGE, "view_type": "ALL"},
            "experiments",
        )
        out = []
        for e in items:
            stage = e.get("lifecycle_stage", ACTIVE)
            updated = int(e.get("last_update_time") or e.get("creation_time") or 0)
            out.append(
                ExperimentRecord(
                    source_id=str(e["experiment_id"]),
                    name=e["name"],
                    artifact_location=e.get("artifact_location", ""),
                    lifecycle_stage=stage,
                    creation_time=int(e.get("creation_time") or 0),
                    last_update_time=updated,
                    deleted_time=updated if stage == "deleted" else None,
                    tags=_pairs(e.get("tags")),
                )
            )
        out.sort(key=lambda x: (len(x.source_id), x.source_id))
        return out

    def runs(self, experiment: ExperimentRecord) -> list[RunRecord]:
        items = self._paged(
            "POST",
            "runs/search",
            {
                "experiment_ids": [experiment.source_id],
                "run_view_type": "ALL",
                "max_results": SEARCH_PAGE,
            },
            "runs",
        )
        out = []
        for item in items:
            info, data = item.get("info", {}), item.get("data", {})
            run_id = info.get("run_id") or info["run_uuid"]
            latest = sorted(data.get("metrics", []), key=lambda m: m["key"])
            self._latest[run_id] = latest
            inputs = item.get("inputs", {})
            outputs = item.get("outputs", {})
            out.append(
                RunRecord(
                    run_id=run_id,
                    experiment_id=experiment.source_id,
                    run_name=info.get("run_name", ""),
                    user_id=info.get("user_id", ""),
                    status=info.get("status", "FINISHED"),
                    start_time=int(info.get("start_time") or 0),
                    end_time=None if info.get("end_time") is None else int(info["end_time"]),
                    lifecycle_stage=info.get("lifecycle_stage", ACTIVE),
                    artifact_uri=info.get("artifact_uri", ""),
                    params=_pairs(data.get("params")),
                    tags=_pairs(data.get("tags")),
                    datasets=tuple(_dataset(d) for d in inputs.get("dataset_inputs", [])),
                    model_inputs=tuple(m["model_id"] for m in inputs.get("model_inputs", [])),
                    model_outputs=tuple(
                        (m["model_id"], int(m.get("step") or 0))
                        for m in outputs.get("model_outputs", [])
                    ),
                    metrics_hint=digest(latest),
                )
            )
        out.sort(key=lambda r: (r.start_time, r.run_id))
        return out

    # -- metrics -----------------------------------------------------------------

    def _history(self, run_id: str, key: str) -> list[dict[str, Any]]:
        return self._paged(
            "GET",
            "metrics/get-history",
            {"run_id": run_id, "metric_key": key, "max_results": HISTORY_PAGE},
            "metrics",
        )

    def metric_counts(self, runs: Sequence[RunRecord]) -> dict[str, dict[str, int]]:
        for _run_id, _ in self.series([r for r in runs if r.run_id not in self._counts]):
            pass
        return {r.run_id: dict(self._counts.get(r.run_id, {})) for r in runs}

    def series(self, runs: Sequence[RunRecord]) -> Iterator[tuple[str, dict[str, Series]]]:
        for run in runs:
            keys = [m["key"] for m in self._latest.get(run.run_id, [])]
            collector = SeriesCollector()
            counts: dict[str, int] = {}
            for key in keys:
                points = self._history(run.run_id, key)
                counts[key] = len(points)
                collector.add(
                    [run.run_id] * len(points),
                    [key] * len(points),
                    [int(p.get("step") or 0) for p in points],
                    [int(p.get("timestamp") or 0) for p in points],
                    [_float(p.get("value", "NaN")) for p in points],
                )
            self._counts[run.run_id] = counts
            yield run.run_id, collector.grouped().get(run.run_id, {})

    # -- models ------------------------------------------------------------------

    def logged_models(self, experiment: ExperimentRecord) -> list[LoggedModel]:
        items = self._paged(
            "POST",
            "logged-models/search",
            {"experiment_ids": [experiment.source_id], "max_results": 100},
            "models",
        )
        out = []
        for item in items:
            info, data = item.get("info", {}), item.get("data", {})
            model_id = info["model_id"]
            out.append(
                LoggedModel(
                    model_id=model_id,
                    experiment_id=experiment.source_id,
                    name=info.get("name", ""),
                    artifact_location=info.get("artifact_uri", ""),
                    creation_timestamp=int(info.get("creation_timestamp_ms") or 0),
                    last_updated_timestamp=int(info.get("last_updated_timestamp_ms") or 0),
                    status=LoggedModelStatus.parse(info.get("status") or 0),
                    status_message=info.get("status_message"),
                    model_type=info.get("model_type"),
                    source_run_id=info.get("source_run_id"),
                    lifecycle_stage=ACTIVE,
                    params=_pairs(data.get("params")),
                    tags=_pairs(info.get("tags")),
                    metrics=tuple(
                        LoggedModelMetric(
                            key=m["key"],
                            value=_float(m.get("value", "NaN")),
                            timestamp=int(m.get("timestamp") or 0),
                            step=int(m.get("step") or 0),
                            run_id=m.get("run_id"),
                            model_id=model_id,
                            dataset_name=m.get("dataset_name"),
                            dataset_digest=m.get("dataset_digest"),
                        )
                        for m in data.get("metrics", [])
                    ),
                )
            )
        return out

    def registered_models(self) -> list[RegisteredModelRecord]:
        models = self._paged(
            "GET", "registered-models/search", {"max_results": SEARCH_PAGE}, "registered_models"
        )
        out = []
        for m in models:
            name = m["name"]
            escaped = name.replace("'", "\\'")
            versions = self._paged(
                "GET",
                "model-versions/search",
                {"filter": f"name='{escaped}'", "max_results": 10_000},
                "model_versions",
            )
            parsed = sorted((_version(v) for v in versions), key=lambda v: v.version)
            out.append(
                RegisteredModelRecord(
                    name=name,
                    creation_timestamp=int(m.get("creation_timestamp") or 0),
                    last_updated_timestamp=int(m.get("last_updated_timestamp") or 0),
                    description=m.get("description"),
                    user_id=m.get("user_id"),
                    tags=_pairs(m.get("tags")),
                    aliases={a["alias"]: int(a["version"]) for a in m.get("aliases", [])},
                    versions=tuple(parsed),
                    last_version=max((v.version for v in parsed), default=0),
                )
            )
        return out

    # -- artifacts -----------------------------------------------------------------

    def _proxied(self, location: str) -> str | None:
        parsed = urlparse(location)
        if parsed.scheme.lower() in _PROXIED:
            return parsed.path.strip("/")
        return None

    def list_artifacts(self, location: str) -> list[ArtifactFile]:
        base = self._proxied(location)
        if base is None:
            return self._reader.list(location)
        return self._walk(base, "")

    def _walk(self, base: str, rel: str) -> list[ArtifactFile]:
        path = f"{base}/{rel}" if rel else base
        response = self._send("GET", ARTIFACTS_API, params={"path": path})
        self._check(response, ARTIFACTS_API)
        out: list[ArtifactFile] = []
        for f in response.json().get("files", []):
            name = str(f["path"]).rsplit("/", 1)[-1]
            child = f"{rel}/{name}" if rel else name
            if f.get("is_dir"):
                out.extend(self._walk(base, child))
            else:
                out.append(ArtifactFile(child, int(f.get("file_size") or 0)))
        return out

    def location_exists(self, location: str) -> bool:
        base = self._proxied(location)
        if base is None:
            return self._reader.exists(location)
        return bool(self._walk(base, ""))

    def open_artifact(self, location: str, path: str) -> Iterator[bytes]:
        base = self._proxied(location)
        if base is None:
            return self._reader.open(location, path)
        return self._download(f"{ARTIFACTS_API}/{quote(f'{base}/{path}')}")

    def readable_location(self, location: str) -> str:
        if self._proxied(location) is not None:
            raise UnreadableLocation(
                f"Artifacts at {location} are only reachable through the MLflow server's proxy, "
                "which mltrail cannot reference: use --artifacts copy"
            )
        return self._reader.resolve(location)

    def _download(self, path: str) -> Iterator[bytes]:
        with self._http.stream("GET", path) as response:
            if response.status_code >= 400:
                response.read()
                self._check(response, path)
            yield from response.iter_bytes(1 << 20)

    def close(self) -> None:
        self._http.close()


def _dataset(item: dict[str, Any]) -> DatasetInput:
    ds = item.get("dataset", {})
    return DatasetInput(
        name=ds.get("name", ""),
        digest=ds.get("digest", ""),
        source_type=ds.get("source_type", ""),
        source=ds.get("source", ""),
        schema=ds.get("schema") or None,
        profile=ds.get("profile") or None,
        tags=_pairs(item.get("tags")),
    )


def _version(v: dict[str, Any]) -> ModelVersion:
    source = v.get("source", "")
    return ModelVersion(
        name=v["name"],
        version=int(v["version"]),
        creation_timestamp=int(v.get("creation_timestamp") or 0),
        last_updated_timestamp=int(v.get("last_updated_timestamp") or 0),
        current_stage=v.get("current_stage", "None"),
        description=v.get("description"),
        source=source,
        storage_location=v.get("storage_location") or source,
        run_id=v.get("run_id") or None,
        run_link=v.get("run_link") or None,
        model_id=v.get("model_id") or model_id_of_source(source),
        user_id=v.get("user_id") or None,
        status=v.get("status", "READY"),
        status_message=v.get("status_message"),
        tags=_pairs(v.get("tags")),
    )
