"""Turning system metrics on and off, and the sampler of each active run.

``start_run(log_system_metrics=...)`` decides per run; ``None`` there means the process-wide
choice: :func:`enable_system_metrics_logging` / :func:`disable_system_metrics_logging`, else
the ``enable_system_metrics_logging`` setting (``MLTRAIL_ENABLE_SYSTEM_METRICS_LOGGING``, or
MLflow's ``MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING``). Points go through the logging queue like
every other metric, so sampling never waits on the network and spools when offline.
"""

from __future__ import annotations

import atexit
import importlib
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from mltrail.client.batching import METRIC, get_queue
from mltrail.client.system_metrics.gpu import GpuCollector, open_gpu_collector
from mltrail.client.system_metrics.host import HostCollector
from mltrail.client.system_metrics.sampler import Collector, Sampler
from mltrail.config import Settings
from mltrail.errors import InvalidParameterValue
from mltrail.tracking_api import TrackingAPI

logger = logging.getLogger("mltrail.system_metrics")

PREFIX = "system/"


@dataclass
class _Overrides:
    enabled: bool | None = None
    interval: float | None = None
    samples: int | None = None
    node_id: str | None = None


_overrides = _Overrides()
_samplers: dict[str, Sampler] = {}
_lock = threading.Lock()
_said: set[str] = set()
_atexit_registered = False


def enable_system_metrics_logging() -> None:
    """Log system metrics for every run started from now on (unless it says otherwise)."""
    _overrides.enabled = True


def disable_system_metrics_logging() -> None:
    """Stop logging system metrics for runs started from now on (unless they ask for it)."""
    _overrides.enabled = False


def set_system_metrics_sampling_interval(interval: float | None) -> None:
    """Seconds between two samples for runs started from now on (``None``: the setting)."""
    if interval is not None and not (0 < float(interval) < float("inf")):
        raise InvalidParameterValue(
            f"The sampling interval must be a positive number of seconds, got {interval!r}"
        )
    _overrides.interval = None if interval is None else float(interval)


def set_system_metrics_samples_before_logging(samples: int | None) -> None:
    """How many samples are averaged into one logged point (``None``: the setting)."""
    if samples is not None and (
        isinstance(samples, bool) or int(samples) != samples or samples < 1
    ):
        raise InvalidParameterValue(
            f"samples must be a whole number of at least 1, got {samples!r}"
        )
    _overrides.samples = None if samples is None else int(samples)


def set_system_metrics_node_id(node_id: str | None) -> None:
    """Name this machine in the metric keys (``system/<node_id>/...``), for multi-node runs."""
    _overrides.node_id = node_id


def wanted(log_system_metrics: bool | None, settings: Settings) -> bool:
    if log_system_metrics is not None:
        return bool(log_system_metrics)
    if _overrides.enabled is not None:
        return _overrides.enabled
    return settings.enable_system_metrics_logging


def start_for_run(
    backend: TrackingAPI, run_id: str, *, settings: Settings, resume: bool = False
) -> Sampler | None:
    """Start sampling for ``run_id`` (no-op when it already samples); never raises."""
    try:
        return _start(backend, run_id, settings=settings, resume=resume)
    except Exception as exc:
        logger.warning("mltrail: system metrics are not logged for run %s: %s", run_id, exc)
        return None


def _start(
    backend: TrackingAPI, run_id: str, *, settings: Settings, resume: bool
) -> Sampler | None:
    with _lock:
        if run_id in _samplers:
            return _samplers[run_id]
    collectors = open_collectors()
    if not collectors:
        return None
    node = _overrides.node_id if _overrides.node_id is not None else settings.system_metrics_node_id
    prefix = PREFIX + (f"{node}/" if node else "")
    first_step = _next_step(backend, run_id, prefix) if resume else 0
    queue = get_queue()
    # The queue registers its exit handler when it starts; ours, registered after it, runs
    # before it, so the samplers' last points are queued before the queue drains at exit.
    queue.ensure_started()
    _register_atexit()

    def publish(point: dict[str, float], step: int) -> None:
        stamp = time.time_ns() // 1_000_000
        put = get_queue().put
        for key, value in point.items():
            put((METRIC, backend, run_id, prefix + key, float(value), stamp, step))

    gpus = [c for c in collectors if isinstance(c, GpuCollector)]
    sampler = Sampler(
        collectors,
        publish=publish,
        interval=_overrides.interval or settings.system_metrics_sampling_interval,
        window=_overrides.samples or settings.system_metrics_samples_before_logging,
        first_step=first_step,
        on_close=_closer(gpus) if gpus else None,
    )
    with _lock:
        if run_id in _samplers:  # another thread won the race
            return _samplers[run_id]
        _samplers[run_id] = sampler
    sampler.start()
    return sampler


def _closer(gpus: list[GpuCollector]) -> Callable[[], None]:
    def close() -> None:
        for gpu in gpus:
            gpu.close()

    return close


def open_collectors() -> list[Collector]:
    collectors: list[Collector] = []
    try:
        psutil = importlib.import_module("psutil")
    except ImportError:
        _say_once(
            "psutil",
            "mltrail: psutil is not installed, so CPU, memory, disk and network metrics are "
            "not logged; install them with: pip install 'mltrail[system-metrics]'",
        )
    else:
        collectors.append(HostCollector(psutil))
    gpu = open_gpu_collector()
    if gpu is not None:
        collectors.append(gpu)
    return collectors


def _next_step(backend: TrackingAPI, run_id: str, prefix: str) -> int:
    """A resumed run continues after its last system-metrics step."""
    steps = [s.step for s in backend.get_metric_summaries(run_id) if s.key.startswith(prefix)]
    return max(steps) + 1 if steps else 0


def stop_for_run(run_id: str, *, timeout: float | None = 5.0) -> None:
    with _lock:
        sampler = _samplers.pop(run_id, None)
    if sampler is not None:
        sampler.stop(timeout)


def sampler_of(run_id: str) -> Sampler | None:
    with _lock:
        return _samplers.get(run_id)


def stop_all(timeout: float = 2.0) -> None:
    with _lock:
        samplers = list(_samplers.values())
        _samplers.clear()
    for sampler in samplers:
        sampler._stop.set()
    deadline = time.monotonic() + timeout
    for sampler in samplers:
        sampler.stop(max(0.0, deadline - time.monotonic()))


def _register_atexit() -> None:
    global _atexit_registered
    if not _atexit_registered:
        _atexit_registered = True
        atexit.register(stop_all)


def _say_once(key: str, message: str) -> None:
    if key not in _said:
        _said.add(key)
        logger.warning(message)


def _after_fork_in_child() -> None:
    # Sampler threads do not survive fork; the child's runs are the parent's to sample.
    global _atexit_registered
    _samplers.clear()
    _atexit_registered = False


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
