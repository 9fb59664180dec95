"""Offline mode (``MLTRAIL_OFFLINE=1``): the REST backend logs to the spool, not the network.

For air-gapped machines. The REST backend is unchanged; its HTTP session gets this
transport instead of a network one, which answers the requests a training script makes
from local state:

- experiments: ``set_experiment("name")`` gets a placeholder id ``offline:<name>``; the
  experiment is looked up (or created) by name on the server at sync time. Id ``0`` is
  the server's default experiment; any other id is taken as a server id at sync time.
- runs: the client chooses the run id (uuid4 hex), the spool file records the creation
  (experiment, start time, tags, name, user), and ``mltrail sync`` creates the run with
  that same id, so a run keeps its id. Its end (status, end time) is recorded too.
- batches go to the run's spool file with their idempotency keys.

Anything else (searches, histories, artifacts) is refused with a clear error: there is no
server to ask.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
import uuid
from typing import Any
from urllib.parse import unquote

import httpx

from mltrail.client.spool import Spool, spool_directory, spool_path
from mltrail.config import Settings

OFFLINE_PREFIX = "offline:"
DEFAULT_EXPERIMENT_ID = "0"
_RUN_NAME_TAG = "mlflow.runName"
_API = "/api/v1"
_RUN = re.compile(r"^/runs/([^/]+)$")
_RUN_BATCH = re.compile(r"^/runs/([^/]+)/batch$")
_EXPERIMENT = re.compile(r"^/experiments/([^/]+)$")


def _json(status: int, body: Any) -> httpx.Response:
    return httpx.Response(status, json=body)


def _refuse(method: str, path: str) -> httpx.Response:
    return _json(
        400,
        {
            "error_code": "INVALID_STATE",
            "message": (
                f"{method} {path} is not available in offline mode (MLTRAIL_OFFLINE=1): only "
                "experiments by name, creating and ending runs, and logging work offline. "
                "Sync the spool with `mltrail sync` and ask the server."
            ),
        },
    )


def _experiment(experiment_id: str) -> dict[str, Any]:
    if experiment_id.startswith(OFFLINE_PREFIX):
        name = experiment_id[len(OFFLINE_PREFIX) :]
    elif experiment_id == DEFAULT_EXPERIMENT_ID:
        name = "Default"
    else:
        name = f"experiment {experiment_id}"
    return {
        "experiment_id": experiment_id,
        "name": name,
        "artifact_location": "",
        "lifecycle_stage": "active",
        "tags": {},
        "creation_time": None,
        "last_update_time": None,
    }


class OfflineTransport(httpx.BaseTransport):
    """Answers the native API's logging requests from the offline spool."""

    def __init__(self, base_url: str, *, settings: Settings) -> None:
        self.base_url = base_url.rstrip("/")
        self._prefix = httpx.URL(self.base_url).path.rstrip("/") + _API
        self._directory = spool_directory(settings)
        self._spools: dict[str, Spool] = {}
        self._lock = threading.Lock()

    def spool(self, run_id: str) -> Spool:
        with self._lock:
            spool = self._spools.get(run_id)
            if spool is None:
                path = spool_path(self._directory, run_id=run_id, tracking_uri=self.base_url)
                spool = self._spools[run_id] = Spool(path)
                spool.set_meta("tracking_uri", self.base_url)
                spool.set_meta("run_id", run_id)
            return spool

    def close(self) -> None:
        with self._lock:
            for spool in self._spools.values():
                spool.close()
            self._spools.clear()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if not path.startswith(self._prefix):
            return _refuse(request.method, path)
        route = path[len(self._prefix) :]
        method = request.method
        body: Any = None
        if request.content:
            body = json.loads(request.content)
        if method == "GET" and route == "/experiments/by-name":
            name = request.url.params.get("name", "")
            return _json(200, {"experiment": _experiment(OFFLINE_PREFIX + name)})
        if method == "POST" and route == "/experiments":
            return _json(200, {"experiment_id": OFFLINE_PREFIX + str(body["name"])})
        match = _EXPERIMENT.match(route)
        if method == "GET" and match:
            return _json(200, {"experiment": _experiment(unquote(match.group(1)))})
        if method == "POST" and route == "/runs":
            return _json(200, {"run": self._create_run(body)})
        match = _RUN_BATCH.match(route)
        if method == "POST" and match:
            return self._log_batch(unquote(match.group(1)), body)
        match = _RUN.match(route)
        if match:
            run_id = unquote(match.group(1))
            if method == "GET":
                return self._get_run(run_id)
            if method == "PATCH":
                return self._update_run(run_id, body)
        return _refuse(method, path)

    # -- runs ------------------------------------------------------------------------
    def _create_run(self, body: dict[str, Any]) -> dict[str, Any]:
        run_id = body.get("run_id") or uuid.uuid4().hex
        tags = dict(body.get("tags") or {})
        name = body.get("run_name") or tags.get(_RUN_NAME_TAG) or f"offline-{secrets.token_hex(3)}"
        tags[_RUN_NAME_TAG] = name
        create = {
            "experiment_id": str(body.get("experiment_id") or DEFAULT_EXPERIMENT_ID),
            "start_time": body.get("start_time") or time.time_ns() // 1_000_000,
            "tags": tags,
            "run_name": name,
            "user_id": body.get("user_id"),
        }
        spool = self.spool(run_id)
        if spool.get_meta("create") is None:
            spool.set_meta("create", create)
        return self._run_json(run_id)

    def _run_json(self, run_id: str) -> dict[str, Any]:
        spool = self.spool(run_id)
        create = spool.get_meta("create") or {}
        update = spool.get_meta("update") or {}
        return {
            "info": {
                "run_id": run_id,
                "experiment_id": create.get("experiment_id", DEFAULT_EXPERIMENT_ID),
                "run_name": update.get("run_name") or create.get("run_name", ""),
                "user_id": create.get("user_id") or "",
                "status": update.get("status") or "RUNNING",
                "start_time": create.get("start_time", 0),
                "end_time": update.get("end_time"),
                "lifecycle_stage": "active",
                "artifact_uri": "",
            },
            "data": {"metrics": {}, "params": {}, "tags": create.get("tags", {})},
        }

    def _get_run(self, run_id: str) -> httpx.Response:
        if self.spool(run_id).get_meta("create") is None:
            return _json(
                404,
                {
                    "error_code": "RESOURCE_DOES_NOT_EXIST",
                    "message": (
                        f"Run '{run_id}' was not created offline on this machine; resuming a "
                        "server's run needs the server (offline mode is on)"
                    ),
                },
            )
        return _json(200, {"run": self._run_json(run_id)})

    def _update_run(self, run_id: str, body: dict[str, Any]) -> httpx.Response:
        spool = self.spool(run_id)
        update = dict(spool.get_meta("update") or {})
        update.update({k: v for k, v in (body or {}).items() if v is not None})
        spool.set_meta("update", update)
        return _json(200, {"run_info": self._run_json(run_id)["info"]})

    def _log_batch(self, run_id: str, body: dict[str, Any]) -> httpx.Response:
        # The REST backend's body is already the spool's shape: metric columns and pairs.
        columns = body.get("metrics") or {}
        payload = {
            "metrics": columns,
            "params": body.get("params") or [],
            "tags": body.get("tags") or [],
        }
        self.spool(run_id).append_encoded(
            idempotency_key=body.get("idempotency_key") or uuid.uuid4().hex,
            points=sum(len(col["values"]) for col in columns.values()),
            payload=json.dumps(payload, separators=(",", ":")),
        )
        return _json(200, {})
