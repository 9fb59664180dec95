"""An mltrail server written through its native API (``/api/v1``).

For a team whose database is only reachable through the server. Runs keep their ids
(``POST /runs`` takes ``run_id``); params, tags and points go in bulk requests of up to
50,000 points (``POST /runs/{id}/batch``) that carry an idempotency key derived from their
content, so a request retried after a lost answer, or re-sent by a resumed import, is
applied once. Logged models keep their ``m-`` ids; registered-model versions keep their
numbers (a gap is made by creating and deleting a placeholder version). The server sets
what its API does not take: experiment and registry timestamps are the import's time.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np

from mltrail.artifacts.base import ArtifactStore
from mltrail.client.artifact_ops import open_run_artifacts
from mltrail.client.rest_http import HttpSession
from mltrail.config import Settings
from mltrail.errors import ResourceDoesNotExist
from mltrail.model_entities import LoggedModel, ModelVersion
from mltrail.store.sql.metrics import Series, sorted_series
from mltrail.transfer.records import DELETED, ExperimentRecord, RegisteredModelRecord
from mltrail.transfer.targets.base import InventoryScope, PendingRun, TargetExperiment, walk
from mltrail.transfer.verify import Inventory

API = "/api/v1"
MLFLOW_API = "/api/2.0/mlflow"
POINTS_PER_REQUEST = 50_000
PAIRS_PER_REQUEST = 5_000
LOOKUP_THREADS = 8
_NONFINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}
_FROM_TEXT = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _value_out(v: float) -> float | str:
    return v if math.isfinite(v) else _NONFINITE[repr(v)]


def _q(text: str) -> str:
    return quote(text, safe="")


class HttpTarget:
    def __init__(self, url: str, *, settings: Settings) -> None:
        self.url = url.rstrip("/")
        self.label = f"mltrail server {self.url}"
        self.db_file: Path | None = None
        self._settings = settings
        self.http = HttpSession(self.url, settings=settings)
        self.http.call("GET", f"{API}/experiments/0")

    # -- experiments -------------------------------------------------------------

    def experiments(self) -> list[TargetExperiment]:
        answer = self.http.call(
            "POST",
            f"{API}/experiments/search",
            json_body={"view_type": "ALL", "max_results": 50_000},
        )
        return [_experiment(e) for e in answer.get("experiments", [])]

    def _get_experiment(self, exp_id: str) -> TargetExperiment:
        return _experiment(self.http.call("GET", f"{API}/experiments/{exp_id}")["experiment"])

    def create_experiment(
        self, record: ExperimentRecord, *, name: str, artifact_location: str | None
    ) -> TargetExperiment:
        body: dict[str, Any] = {"name": name, "tags": dict(record.tags)}
        if artifact_location:
            body["artifact_location"] = artifact_location
        exp_id = str(self.http.call("POST", f"{API}/experiments", json_body=body)["experiment_id"])
        return self._get_experiment(exp_id)

    def update_experiment(self, experiment: TargetExperiment, record: ExperimentRecord) -> None:
        if experiment.lifecycle_stage == DELETED:
            self.http.call("POST", f"{API}/experiments/{experiment.experiment_id}/restore")
        for key, value in record.tags.items():
            self.http.call(
                "POST",
                f"{API}/experiments/{experiment.experiment_id}/tags",
                json_body={"key": key, "value": value},
            )

    def finish_experiment(self, experiment: TargetExperiment, record: ExperimentRecord) -> None:
        """Deleted at the source: deleted here too, once its runs and models are in."""
        if record.deleted:
            current = self._get_experiment(experiment.experiment_id)
            if current.lifecycle_stage != DELETED:
                self.http.call("DELETE", f"{API}/experiments/{experiment.experiment_id}")

    # -- runs --------------------------------------------------------------------

    def _run(self, run_id: str) -> dict[str, Any] | None:
        try:
            answer = self.http.call("GET", f"{API}/runs/{_q(run_id)}")
        except ResourceDoesNotExist:
            return None
        run: dict[str, Any] = answer["run"]
        return run

    def run_experiments(self, run_ids: Sequence[str]) -> dict[str, str]:
        with ThreadPoolExecutor(LOOKUP_THREADS) as pool:
            found = list(pool.map(self._run, run_ids))
        return {
            run_id: str(run["info"]["experiment_id"])
            for run_id, run in zip(run_ids, found, strict=True)
            if run is not None
        }

    def run_location(self, experiment: TargetExperiment, run_id: str) -> str:
        return f"{experiment.artifact_location.rstrip('/')}/{run_id}/artifacts"

    def model_location(self, experiment: TargetExperiment, model_id: str) -> str:
        return f"{experiment.artifact_location.rstrip('/')}/models/{model_id}/artifacts"

    def stored_series(self, run_id: str, keys: Iterable[str]) -> dict[str, Series]:
        out: dict[str, Series] = {}
        for key in keys:
            answer = self.http.call(
                "GET",
                f"{API}/runs/{_q(run_id)}/metrics/history",
                params={"key": key, "max_results": 1_000_000},
            )
            values = [_FROM_TEXT.get(v, v) if isinstance(v, str) else v for v in answer["values"]]
            out[key] = sorted_series(
                np.array(answer["steps"], dtype=np.int64),
                np.array(answer["timestamps"], dtype=np.int64),
                np.array(values, dtype=np.float64),
            )
        return out

    def write_runs(self, batch: Sequence[PendingRun]) -> None:
        for pending in batch:
            self._write_run(pending)

    def _write_run(self, p: PendingRun) -> None:
        r = p.record
        path = f"{API}/runs/{_q(r.run_id)}"
        current = None if p.is_new else self._run(r.run_id)
        if current is None:
            self.http.call(
                "POST",
                f"{API}/runs",
                json_body={
                    "experiment_id": p.experiment_id,
                    "run_id": r.run_id,
                    "start_time": r.start_time,
                    "run_name": r.run_name or None,
                    "user_id": r.user_id or None,
                },
            )
        elif current["info"]["lifecycle_stage"] == DELETED:
            self.http.call("POST", f"{path}/restore")
        self._send_data(r.run_id, dict(r.params), r.all_tags(), p.series)
        update: dict[str, Any] = {"status": r.status}
        if r.end_time is not None:
            update["end_time"] = r.end_time
        self.http.call("PATCH", path, json_body=update)
        if r.deleted:
            self.http.call("DELETE", path)

    def _send_data(
        self, run_id: str, params: dict[str, str], tags: dict[str, str], series: Any
    ) -> None:
        pairs = [("params", k, v) for k, v in params.items()] + [
            ("tags", k, v) for k, v in tags.items()
        ]
        for start in range(0, len(pairs), PAIRS_PER_REQUEST):
            body: dict[str, Any] = {"params": {}, "tags": {}}
            for kind, k, v in pairs[start : start + PAIRS_PER_REQUEST]:
                body[kind][k] = v
            self._batch(run_id, body)
        pending: dict[str, Any] = {}
        size = 0
        for key, s in series.items():
            for start in range(0, len(s), POINTS_PER_REQUEST):
                part = s.take(slice(start, start + POINTS_PER_REQUEST))
                if size + len(part) > POINTS_PER_REQUEST and pending:
                    self._batch(run_id, {"metrics": pending})
                    pending, size = {}, 0
                pending[key] = {
                    "steps": part.steps.tolist(),
                    "timestamps": part.timestamps.tolist(),
                    "values": [_value_out(v) for v in part.values.tolist()],
                }
                size += len(part)
                if size >= POINTS_PER_REQUEST:
                    self._batch(run_id, {"metrics": pending})
                    pending, size = {}, 0
        if pending:
            self._batch(run_id, {"metrics": pending})

    def _batch(self, run_id: str, body: dict[str, Any]) -> None:
        raw = repr(sorted(body.items())).encode()
        key = f"import-{run_id}-{hashlib.sha256(raw).hexdigest()[:40]}"
        self.http.call(
            "POST", f"{API}/runs/{_q(run_id)}/batch", json_body={**body, "idempotency_key": key}
        )

    # -- models ------------------------------------------------------------------

    def existing_models(self, model_ids: Sequence[str]) -> set[str]:
        found = set()
        for model_id in model_ids:
            try:
                self.http.call("GET", f"{API}/logged-models/{_q(model_id)}")
            except ResourceDoesNotExist:
                continue
            found.add(model_id)
        return found

    def write_logged_model(self, model: LoggedModel, *, is_new: bool) -> None:
        path = f"{API}/logged-models/{_q(model.model_id)}"
        if is_new:
            self.http.call(
                "POST",
                f"{API}/logged-models",
                json_body={
                    "experiment_id": model.experiment_id,
                    "model_id": model.model_id,
                    "name": model.name,
                    "source_run_id": model.source_run_id,
                    "model_type": model.model_type,
                    "params": dict(model.params),
                    "tags": dict(model.tags),
                },
            )
        else:
            if model.tags:
                self.http.call("POST", f"{path}/tags", json_body={"tags": dict(model.tags)})
        if model.status.value in ("LOGGED_MODEL_READY", "LOGGED_MODEL_UPLOAD_FAILED"):
            self.http.call("PATCH", path, json_body={"status": model.status.value})
        self._link_metrics(model)
        if model.lifecycle_stage == DELETED:
            self.http.call("DELETE", path)

    def _link_metrics(self, model: LoggedModel) -> None:
        """Metrics linked to a model travel as the mlflow client sends them: a run's
        log-batch with ``model_id`` (points the run already holds are linked, not added)."""
        by_run: dict[str, list[dict[str, Any]]] = {}
        for m in model.metrics:
            if not m.run_id:
                continue
            entry: dict[str, Any] = {
                "key": m.key,
                "value": _value_out(m.value),
                "timestamp": m.timestamp,
                "step": m.step,
                "model_id": model.model_id,
            }
            if m.dataset_name:
                entry["dataset_name"] = m.dataset_name
                entry["dataset_digest"] = m.dataset_digest or ""
            by_run.setdefault(m.run_id, []).append(entry)
        for run_id, metrics in by_run.items():
            self.http.call(
                "POST",
                f"{MLFLOW_API}/runs/log-batch",
                json_body={"run_id": run_id, "metrics": metrics},
            )

    def registered_names(self) -> set[str]:
        names: set[str] = set()
        token = None
        while True:
            answer = self.http.call(
                "POST",
                f"{API}/registered-models/search",
                json_body={"max_results": 1000, **({"page_token": token} if token else {})},
            )
            names.update(m["name"] for m in answer.get("registered_models", []))
            token = answer.get("next_page_token")
            if not token:
                return names

    def write_registered_model(self, model: RegisteredModelRecord) -> None:
        base = f"{API}/registered-models/{_q(model.name)}"
        try:
            current = self.http.call("GET", base)["registered_model"]
        except ResourceDoesNotExist:
            current = None
        if current is None:
            self.http.call(
                "POST",
                f"{API}/registered-models",
                json_body={
                    "name": model.name,
                    "tags": dict(model.tags),
                    "description": model.description,
                },
            )
        else:
            self.http.call("PATCH", base, json_body={"description": model.description})
            for key, value in model.tags.items():
                self.http.call("POST", f"{base}/tags", json_body={"key": key, "value": value})
        existing = self._version_numbers(model.name)
        for version in sorted(model.versions, key=lambda v: v.version):
            self._write_version(model.name, version, existing)
        for alias, number in model.aliases.items():
            self.http.call("PUT", f"{base}/aliases/{_q(alias)}", json_body={"version": str(number)})

    def _version_numbers(self, name: str) -> set[int]:
        escaped = name.replace("'", "\\'")
        answer = self.http.call(
            "POST",
            f"{API}/model-versions/search",
            json_body={"filter": f"name='{escaped}'", "max_results": 1000},
        )
        return {int(v["version"]) for v in answer.get("model_versions", [])}

    def _write_version(self, name: str, version: ModelVersion, existing: set[int]) -> None:
        base = f"{API}/registered-models/{_q(name)}/versions"
        if version.version not in existing:
            created = self._create_version(name, version)
            while created < version.version:
                # A gap at the source (a deleted version): burn the number, as MLflow did.
                self.http.call("DELETE", f"{base}/{created}")
                created = self._create_version(name, version)
            existing.add(created)
        path = f"{base}/{version.version}"
        if version.description is not None:
            self.http.call("PATCH", path, json_body={"description": version.description})
        for key, value in version.tags.items():
            self.http.call("POST", f"{path}/tags", json_body={"key": key, "value": value})
        self.http.call(
            "POST",
            f"{path}/stage",
            json_body={"stage": version.current_stage, "archive_existing_versions": False},
        )

    def _create_version(self, name: str, version: ModelVersion) -> int:
        answer = self.http.call(
            "POST",
            f"{API}/registered-models/{_q(name)}/versions",
            json_body={
                "source": version.source,
                "run_id": version.run_id,
                "tags": dict(version.tags),
                "run_link": version.run_link,
                "description": version.description,
                "model_id": version.model_id,
            },
        )
        return int(answer["model_version"]["version"])

    # -- artifacts -----------------------------------------------------------------

    def artifacts(self, location: str) -> ArtifactStore:
        return open_run_artifacts(location, tracking_uri=self.url, settings=self._settings)

    # -- verification --------------------------------------------------------------

    def inventory(self, scope: InventoryScope) -> Inventory:
        inv = Inventory()
        names: dict[str, str] = {}
        for exp_id in scope.experiment_ids:
            exp = self._get_experiment(exp_id)
            names[exp_id] = exp.name
            inv.experiments[exp.name] = exp.lifecycle_stage
        for run_id in scope.run_ids:
            run = self._run(run_id)
            if run is None:
                continue
            info, data = run["info"], run["data"]
            exp_name = names.get(str(info["experiment_id"]), str(info["experiment_id"]))
            inv.runs[run_id] = (exp_name, info["status"], info["lifecycle_stage"])
            inv.params[run_id] = dict(data.get("params", {}))
            inv.tags[run_id] = dict(data.get("tags", {}))
            summaries = self.http.call("GET", f"{API}/runs/{_q(run_id)}/metrics")
            inv.metrics[run_id] = {m["key"]: int(m["count"]) for m in summaries.get("metrics", [])}
        for model_id in scope.model_ids:
            try:
                m = self.http.call(
                    "GET", f"{API}/logged-models/{_q(model_id)}", params={"allow_deleted": "true"}
                )["model"]
            except ResourceDoesNotExist:
                continue
            inv.logged_models[model_id] = (
                m["name"],
                m["status"],
                m.get("lifecycle_stage", "active"),
            )
        for name in scope.registered_names:
            self._registered_inventory(inv, name)
        for owner, location in scope.artifact_locations.items():
            inv.artifacts[owner] = walk(self.artifacts(location))
        return inv

    def _registered_inventory(self, inv: Inventory, name: str) -> None:
        try:
            rm = self.http.call("GET", f"{API}/registered-models/{_q(name)}")["registered_model"]
        except ResourceDoesNotExist:
            return
        inv.registered_models[name] = rm.get("description") or ""
        escaped = name.replace("'", "\\'")
        answer = self.http.call(
            "POST",
            f"{API}/model-versions/search",
            json_body={"filter": f"name='{escaped}'", "max_results": 1000},
        )
        for v in answer.get("model_versions", []):
            inv.versions[(name, int(v["version"]))] = (v["current_stage"], v.get("run_id") or "")
        aliases = rm.get("aliases", {})
        items = (
            aliases.items()
            if isinstance(aliases, dict)
            else [(a["alias"], a["version"]) for a in aliases]
        )
        for alias, number in items:
            inv.aliases[(name, alias)] = int(number)

    def close(self) -> None:
        self.http.close()


def _experiment(e: dict[str, Any]) -> TargetExperiment:
    return TargetExperiment(
        experiment_id=str(e["experiment_id"]),
        name=e["name"],
        artifact_location=e["artifact_location"],
        lifecycle_stage=e["lifecycle_stage"],
    )
