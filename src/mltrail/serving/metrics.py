"""``/metrics``: what the scoring server did, in Prometheus' text format (prometheus_client).

One :class:`ServingMetrics` per app, on a registry of its own, so that two apps in one process
(a test, a service mounting two models) do not mix their counts. With several worker processes
the runner switches prometheus_client to its multi-process mode before any metric exists, and
``/metrics`` adds up every worker's files, whichever worker answers the scrape.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from types import ModuleType
from typing import Any

from mltrail.errors import ConfigurationError

LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
)  # fmt: skip
ENDPOINTS = ("invocations", "ping", "health", "version", "metrics", "other")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def prometheus() -> ModuleType:
    try:
        return importlib.import_module("prometheus_client")
    except ImportError as exc:
        raise ConfigurationError(
            "The scoring server needs prometheus_client: pip install 'mltrail[serving]'"
        ) from exc


class ServingMetrics:
    def __init__(self, *, multiprocess_dir: str | None = None) -> None:
        prom = prometheus()
        # The *_created series double the output and tell a scraper nothing it needs.
        prom.disable_created_metrics()
        self._prom = prom
        self._multiprocess_dir = multiprocess_dir
        self.registry = prom.CollectorRegistry(auto_describe=True)
        reg = self.registry
        self.requests = prom.Counter(
            "mltrail_serving_requests",
            "HTTP requests by endpoint and status code.",
            ["endpoint", "status"],
            registry=reg,
        )
        self.latency = prom.Histogram(
            "mltrail_serving_request_duration_seconds",
            "Time from the request's arrival to the end of the answer, by endpoint.",
            ["endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=reg,
        )
        self.rows = prom.Counter(
            "mltrail_serving_rows_scored", "Input rows the model predicted.", registry=reg
        )
        self.errors = prom.Counter(
            "mltrail_serving_errors",
            "Failed /invocations requests by kind (bad_json, bad_input, schema, content_type, "
            "too_large, too_many_rows, timeout, model_error).",
            ["kind"],
            registry=reg,
        )
        self.model = prom.Gauge(
            "mltrail_serving_model_info",
            "1 for the model version that answers, 0 for versions it answered before.",
            ["name", "version", "model_id", "uri"],
            registry=reg,
            multiprocess_mode="max",
        )
        self.swaps = prom.Counter(
            "mltrail_serving_model_swaps",
            "Times --watch loaded a new version behind the alias.",
            registry=reg,
        )
        self._latency_by_endpoint = {e: self.latency.labels(e) for e in ENDPOINTS}
        self._model_labels: tuple[str, str, str, str] | None = None

    def observe(self, *, endpoint: str, status: int, seconds: float) -> None:
        self.requests.labels(endpoint, str(status)).inc()
        self._latency_by_endpoint[endpoint].observe(seconds)

    def error(self, kind: str) -> None:
        self.errors.labels(kind).inc()

    def set_model(
        self, *, name: str | None, version: int | None, model_id: str | None, uri: str
    ) -> None:
        labels = (name or "", "" if version is None else str(version), model_id or "", uri)
        if self._model_labels is not None and self._model_labels != labels:
            self.model.labels(*self._model_labels).set(0)
        self.model.labels(*labels).set(1)
        self._model_labels = labels

    def exposition(self) -> bytes:
        prom = self._prom
        if self._multiprocess_dir is None:
            return bytes(prom.generate_latest(self.registry))
        from prometheus_client import multiprocess

        merged = prom.CollectorRegistry()
        multiprocess.MultiProcessCollector(merged, path=self._multiprocess_dir)  # type: ignore[no-untyped-call]
        return bytes(prom.generate_latest(merged))


def sample_value(text: str, name: str, labels: dict[str, str] | None = None) -> float | None:
    """One sample of an exposition, for tests and tools (``None`` when absent)."""
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(text):
        for sample in _samples(family.samples):
            if sample.name == name and all(
                sample.labels.get(k) == v for k, v in (labels or {}).items()
            ):
                return float(sample.value)
    return None


def _samples(samples: Iterable[Any]) -> Iterable[Any]:
    return samples
