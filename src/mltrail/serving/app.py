"""The scoring app: a plain ASGI callable speaking MLflow's scoring protocol.

Routes: ``POST /invocations``, ``GET /ping``, ``GET /health``, ``GET /version``,
``GET /metrics``. No framework sits between uvicorn and the model: the routing is five string
comparisons, and parsing, predicting and writing the answer happen in one call on a thread pool,
so the event loop stays free for ``/ping`` and ``/metrics`` while a model works.

Each request reads ``holder.current`` once; a swap (``--watch``) replaces that reference, so a
request in flight finishes on the model it started with.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from mltrail.errors import MltrailError, RequestTooLarge
from mltrail.serving.errors import ScoringTimeout, error_kind
from mltrail.serving.inputs import media_type, parse_body
from mltrail.serving.loading import ServedModel
from mltrail.serving.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from mltrail.serving.metrics import ServingMetrics
from mltrail.serving.outputs import predictions_json
from mltrail.version import __version__

if TYPE_CHECKING:
    from mltrail.serving.monitor import PredictionMonitor
    from mltrail.serving.watch import AliasWatcher

logger = logging.getLogger("mltrail.serving")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

JSON = b"application/json"
DEFAULT_MAX_BATCH_ROWS = 100_000
DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024
DEFAULT_TIMEOUT = 60.0
DEFAULT_THREADS = 4


@dataclass(frozen=True)
class ServeOptions:
    max_batch_rows: int = DEFAULT_MAX_BATCH_ROWS
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    timeout: float = DEFAULT_TIMEOUT
    threads: int = DEFAULT_THREADS


class ModelHolder:
    """The model that answers; replaced whole by :meth:`swap`, never changed in place."""

    def __init__(self, served: ServedModel) -> None:
        self.current = served

    def swap(self, served: ServedModel) -> ServedModel:
        old, self.current = self.current, served
        return old


class _Response:
    __slots__ = ("body", "content_type", "status")

    def __init__(self, status: int, body: bytes, content_type: bytes = JSON) -> None:
        self.status = status
        self.body = body
        self.content_type = content_type


def _error(exc: MltrailError) -> _Response:
    return _Response(exc.status, orjson.dumps(exc.to_dict()))


class ScoringApp:
    def __init__(
        self,
        holder: ModelHolder,
        *,
        options: ServeOptions,
        metrics: ServingMetrics,
        monitor: PredictionMonitor | None = None,
        watcher: AliasWatcher | None = None,
    ) -> None:
        self.holder = holder
        self.options = options
        self.metrics = metrics
        self.monitor = monitor
        self.watcher = watcher
        self._executor: ThreadPoolExecutor | None = None
        self._started_pid: int | None = None
        self._start_lock = threading.Lock()
        served = holder.current
        metrics.set_model(
            name=served.source.name,
            version=served.source.version,
            model_id=served.source.model_id,
            uri=served.source.uri,
        )

    # -- background work (per process: threads do not survive a fork) ------------------
    def start(self) -> None:
        """Start the thread pool, the alias watcher and the monitor in this process."""
        with self._start_lock:
            if self._started_pid == os.getpid():
                return
            self._started_pid = os.getpid()
            self._executor = ThreadPoolExecutor(
                max_workers=max(1, self.options.threads), thread_name_prefix="mltrail-score"
            )
            if self.watcher is not None:
                self.watcher.start()
            if self.monitor is not None:
                self.monitor.start()

    def stop(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()
        if self.monitor is not None:
            self.monitor.stop()
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)

    # -- ASGI -------------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(receive, send)
            return
        if kind != "http":
            return
        started = time.perf_counter()
        if self._started_pid != os.getpid():
            self.start()
        path = _route_path(scope)
        method = scope["method"]
        if path == "/invocations":
            endpoint = "invocations"
            if method == "POST":
                response = await self._invocations(scope, receive)
            else:
                response = _not_allowed("POST")
        elif path in ("/ping", "/health", "/version", "/metrics"):
            endpoint = path[1:]
            response = self._info(endpoint) if method in ("GET", "HEAD") else _not_allowed("GET")
        else:
            endpoint = "other"
            response = _Response(
                404,
                orjson.dumps(
                    {
                        "error_code": "ENDPOINT_NOT_FOUND",
                        "message": f"No route {path!r}: the scoring server answers POST "
                        "/invocations and GET /ping, /health, /version, /metrics",
                    }
                ),
            )
        await _send(send, response, head=method == "HEAD")
        self.metrics.observe(
            endpoint=endpoint, status=response.status, seconds=time.perf_counter() - started
        )

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _info(self, endpoint: str) -> _Response:
        if endpoint in ("ping", "health"):
            return _Response(200, b"\n")
        if endpoint == "metrics":
            return _Response(200, self.metrics.exposition(), METRICS_CONTENT_TYPE.encode())
        return _Response(200, orjson.dumps(version_info(self.holder.current)))

    async def _invocations(self, scope: Scope, receive: Receive) -> _Response:
        served = self.holder.current
        try:
            mime = media_type(_header(scope, b"content-type"))
            body = await _read_body(scope, receive, limit=self.options.max_body_bytes)
            loop = asyncio.get_running_loop()
            work = loop.run_in_executor(self._executor, self._score, served, body, mime)
            try:
                payload = await asyncio.wait_for(work, timeout=self.options.timeout or None)
            except TimeoutError as exc:
                raise ScoringTimeout(
                    f"The model did not answer within {self.options.timeout:g} s (--timeout)"
                ) from exc
        except _Disconnected:
            return _Response(499, b"")
        except MltrailError as exc:
            return self._failed(exc)
        except Exception as exc:
            return self._failed(_model_failure(exc))
        return _Response(200, payload)

    def _failed(self, exc: MltrailError) -> _Response:
        kind = error_kind(exc)
        self.metrics.error(kind)
        if self.monitor is not None:
            self.monitor.record_error()
        if kind == "model_error":
            logger.warning("Prediction failed: %s", exc.message)
        return _error(exc)

    def _score(self, served: ServedModel, body: bytes, mime: str) -> bytes:
        model = served.model
        parsed = parse_body(body, mime, model.signature, max_rows=self.options.max_batch_rows)
        predictions = model.predict_prepared(parsed.data)
        payload = predictions_json(predictions)
        self.metrics.rows.inc(parsed.rows)
        if self.monitor is not None:
            self.monitor.record(parsed.rows, predictions)
        return payload


class _Disconnected(Exception):
    pass


def _model_failure(exc: Exception) -> MltrailError:
    from mltrail.errors import BadRequest

    first = (str(exc).strip().splitlines() or [""])[0][:500]
    if isinstance(exc, ValueError | TypeError | KeyError | IndexError):
        return BadRequest(
            f"The model failed on this input: {type(exc).__name__}: {first}. Check that the "
            "input matches what the model was trained on."
        )
    error = MltrailError(f"The model failed: {type(exc).__name__}: {first}")
    return error


def _not_allowed(method: str) -> _Response:
    return _Response(
        405,
        orjson.dumps({"error_code": "BAD_REQUEST", "message": f"Method not allowed; use {method}"}),
    )


def _route_path(scope: Scope) -> str:
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    # Mounted under a prefix: Starlette keeps the full path and sets root_path.
    if root and path.startswith(root):
        path = path[len(root) :]
    return path.rstrip("/") or "/"


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")
    return None


async def _read_body(scope: Scope, receive: Receive, *, limit: int) -> bytes:
    declared = _header(scope, b"content-length")
    if declared is not None and declared.isdigit() and limit and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if limit and size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _too_large(limit: int) -> RequestTooLarge:
    return RequestTooLarge(
        f"The request body is larger than {limit} bytes (--max-body-size); send fewer rows per "
        "request"
    )


async def _send(send: Send, response: _Response, *, head: bool = False) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": response.status,
            "headers": [
                (b"content-type", response.content_type),
                (b"content-length", str(len(response.body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": b"" if head else response.body})


def version_info(served: ServedModel) -> dict[str, Any]:
    source = served.source
    return {
        "mltrail_version": __version__,
        "model_uri": source.uri,
        "model_name": source.name,
        "model_version": source.version,
        "alias": source.alias,
        "model_id": source.model_id,
        "run_id": source.run_id,
        "loaded_at": dt.datetime.fromtimestamp(served.loaded_at, dt.timezone.utc).isoformat(),
        "libraries": {
            lib.name: {"recorded": lib.recorded, "installed": lib.installed}
            for lib in served.libraries
        },
    }
