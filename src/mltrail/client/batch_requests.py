"""How a batch of queued values becomes ``log_batch`` requests, and which errors are transient.

A batch is cut into requests of at most ``MAX_PARAMS_TAGS_PER_BATCH`` params and tags plus
one request for its metrics, each with an idempotency key derived from the batch's own, so
a batch spooled while in flight is spooled under the very keys the sender is using.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from mltrail.entities import Param, RunTag
from mltrail.errors import (
    ConnectionFailed,
    MltrailError,
    StorageFull,
    TemporarilyUnavailable,
    TooManyRequests,
)
from mltrail.tracking_api import TrackingAPI
from mltrail.wire import MetricColumns, point_count

# MLflow's per-request limit for params and tags, which servers (ours included) enforce.
MAX_PARAMS_TAGS_PER_BATCH = 100
# StorageFull (507): the server's disk is full; like 503 it passes once space is freed.
_TRANSIENT = (TemporarilyUnavailable, ConnectionFailed, TooManyRequests, StorageFull)


# Metric points per key as (steps, timestamps, values): what the sender builds from the
# queue and sends, with no object per point.
Columns = dict[str, tuple[Sequence[int], Sequence[int], Sequence[float]]]

__all__ = ["Columns", "Pending", "point_count", "send_batch"]


@dataclass
class Pending:
    """Values of one run taken from the queue, to be sent together."""

    columns: Columns = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    # Each request cut from this batch gets ``<key>-p<n>`` or ``<key>-m``: the exit path can
    # then spool an in-flight batch under the very keys the sender is using.
    key: str = field(default_factory=lambda: uuid.uuid4().hex)


def is_transient(exc: BaseException) -> bool:
    """An error that says nothing about the batch: the server cannot take it now."""
    # A bare MltrailError is what an unclassified 5xx answer (502, 504, a proxy's page)
    # turns into; like 503 and 429 it says nothing about the batch itself.
    return isinstance(exc, _TRANSIENT) or type(exc) is MltrailError


def spool_uri(backend: TrackingAPI) -> str | None:
    """The tracking URI to spool under, for backends that talk to a server; else None."""
    if getattr(backend, "http", None) is None:
        return None
    uri = getattr(backend, "uri", None)
    return uri if isinstance(uri, str) else None


def is_offline(backend: TrackingAPI) -> bool:
    return bool(getattr(getattr(backend, "http", None), "offline", False))


def send_batch(
    backend: TrackingAPI,
    run_id: str,
    *,
    metrics: MetricColumns | None = None,
    params: Sequence[Param] = (),
    tags: Sequence[RunTag] = (),
) -> None:
    """One ``log_batch`` call with a fresh idempotency key.

    Backends own their retries (the SQL store retries locked writes, the REST backend
    retries the network with this same key), so a transient error here is final.
    """
    backend.log_batch(
        run_id, metrics=metrics, params=params, tags=tags, idempotency_key=uuid.uuid4().hex
    )


def requests(
    batch: Pending,
) -> list[tuple[str, Columns, list[Param], list[RunTag]]]:
    """The requests a batch is sent as, each with its own key derived from the batch's."""
    params = [Param(k, v) for k, v in batch.params.items()]
    tags = [RunTag(k, v) for k, v in batch.tags.items()]
    size = MAX_PARAMS_TAGS_PER_BATCH
    out: list[tuple[str, Columns, list[Param], list[RunTag]]] = []
    for n, start in enumerate(range(0, max(len(params), len(tags)), size)):
        out.append(
            (f"{batch.key}-p{n}", {}, params[start : start + size], tags[start : start + size])
        )
    if batch.columns:
        out.append((f"{batch.key}-m", batch.columns, [], []))
    return out


def splittable(columns: Columns, params: Sequence[Param], tags: Sequence[RunTag]) -> bool:
    """Whether a refused request can be resent in pieces to find the value at fault."""
    if columns:
        return len(columns) > 1
    return len(params) + len(tags) > 1


def pieces(
    columns: Columns, params: Sequence[Param], tags: Sequence[RunTag]
) -> list[dict[str, Any]]:
    """A refused request cut into pieces: metrics key by key, params and tags one by one."""
    if columns:
        return [{"metrics": {key: col}} for key, col in columns.items()]
    return [{"params": [p]} for p in params] + [{"tags": [t]} for t in tags]
