"""The fluent API's run lifecycle: start, end and the active run (ended at interpreter exit)."""

from __future__ import annotations

import atexit
import sys
import time
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from mltrail.client import context
from mltrail.client.batch_requests import send_batch
from mltrail.client.batching import get_queue
from mltrail.client.fluent.experiments import active_experiment_id
from mltrail.client.fluent.state import (
    STATE,
    RunEntry,
    current_backend,
    current_settings,
    run_stack,
)
from mltrail.client.system_metrics import control as system_metrics
from mltrail.entities import (
    LifecycleStage,
    Run,
    RunStatus,
    RunTag,
)
from mltrail.errors import (
    InvalidParameterValue,
    InvalidState,
)
from mltrail.tracking_api import TrackingAPI


class ActiveRun(Run):
    """The run :func:`start_run` returns; as a context manager it ends the run on exit
    (FINISHED, or FAILED when the block raised)."""

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        status = RunStatus.FINISHED if exc_type is None else RunStatus.FAILED
        _end_this_run(self.info.run_id, status, raise_errors=exc_type is None)


def start_run(
    run_id: str | None = None,
    experiment_id: str | None = None,
    run_name: str | None = None,
    nested: bool = False,
    tags: Mapping[str, Any] | None = None,
    description: str | None = None,
    log_system_metrics: bool | None = None,
) -> ActiveRun:
    """Start a new run (or resume ``run_id``) and make it active; use it as a context manager.

    ``log_system_metrics`` samples CPU, memory, disk, network and GPU load into ``system/...``
    metrics while the run is active (``None``: :func:`enable_system_metrics_logging` or the
    ``MLTRAIL_ENABLE_SYSTEM_METRICS_LOGGING`` setting decides).
    """
    stack = run_stack()
    if stack and not nested:
        raise InvalidState(
            f"Run with UUID {stack[0].run_id} is already active. To start a new run, first end "
            "the current run with mltrail.end_run(). To start a nested run, call start_run "
            "with nested=True"
        )
    backend = current_backend()
    user_tags = {str(k): str(v) for k, v in (tags or {}).items()}
    if description:
        if context.NOTE in user_tags:
            raise InvalidParameterValue(
                f"Description is already set via the tag {context.NOTE} in tags. Remove the key "
                f"{context.NOTE} from the tags or omit the description."
            )
        user_tags[context.NOTE] = description
    if run_id:
        run = _resume_run(backend, run_id, run_name=run_name, tags=user_tags)
    else:
        run = _create_run(backend, experiment_id, run_name=run_name, tags=user_tags, stack=stack)
    active = ActiveRun(run.info, run.data)
    stack.append(RunEntry(active, backend, params=dict(run.data.params)))
    _register_atexit()
    settings = current_settings()
    if system_metrics.wanted(log_system_metrics, settings):
        system_metrics.start_for_run(
            backend, run.info.run_id, settings=settings, resume=bool(run_id)
        )
    return active


def _create_run(
    backend: TrackingAPI,
    experiment_id: str | None,
    *,
    run_name: str | None,
    tags: dict[str, str],
    stack: list[RunEntry],
) -> Run:
    if stack:
        tags[context.PARENT_RUN_ID] = stack[-1].run_id
    if run_name:
        tags[context.RUN_NAME] = run_name
    resolved = {**context.system_tags(), **tags}
    exp_id = str(experiment_id) if experiment_id is not None else active_experiment_id()
    run = backend.create_run(
        exp_id,
        start_time=time.time_ns() // 1_000_000,
        tags=resolved,
        run_name=run_name or tags.get(context.RUN_NAME),
        user_id=resolved.get(context.USER),
    )
    if context.RUN_NAME not in run.data.tags and run.info.run_name:
        # The backend chose the name; record it under MLflow's tag too.
        send_batch(backend, run.info.run_id, tags=[RunTag(context.RUN_NAME, run.info.run_name)])
        run = backend.get_run(run.info.run_id)
    return run


def _resume_run(
    backend: TrackingAPI, run_id: str, *, run_name: str | None, tags: dict[str, str]
) -> Run:
    run = backend.get_run(run_id)
    if STATE.experiment_id is not None and STATE.experiment_id != run.info.experiment_id:
        raise InvalidParameterValue(
            f"Cannot start run with ID {run_id} because active experiment ID does not match "
            f"the run's experiment ID ({STATE.experiment_id} != {run.info.experiment_id})."
        )
    if run.info.lifecycle_stage == LifecycleStage.DELETED.value:
        raise InvalidState(f"Cannot start run with ID {run_id} because it is in the deleted state.")
    backend.update_run(
        run_id, status=RunStatus.RUNNING, end_time=run.info.end_time, run_name=run_name
    )
    if tags:
        send_batch(backend, run_id, tags=[RunTag(k, v) for k, v in tags.items()])
    return backend.get_run(run_id)


def end_run(status: RunStatus | str = "FINISHED") -> None:
    """End the active run: send what is queued for it, then record its status and end time.

    Errors kept from background logging of this run are raised after the run is ended.
    """
    stack = run_stack()
    if stack:
        _end_this_run(stack[-1].run_id, RunStatus.parse(status), raise_errors=True)


def end_run_by_id(run_id: str, status: RunStatus | str = "FINISHED") -> None:
    """End ``run_id`` if it is an active run of this thread (wherever it is in the stack)."""
    _end_this_run(run_id, RunStatus.parse(status), raise_errors=True)


def _end_this_run(
    run_id: str, status: RunStatus, *, raise_errors: bool, timeout: float | None = None
) -> None:
    stack = run_stack()
    entry = next((e for e in reversed(stack) if e.run_id == run_id), None)
    if entry is None:
        return
    pending: Exception | None = None
    # Its last sample is queued before the queue is drained for the run.
    system_metrics.stop_for_run(run_id, timeout=timeout)
    queue = get_queue()
    try:
        queue.flush(timeout, run_id=run_id)
    except Exception as exc:  # kept until the run is ended, then raised
        pending = exc
    try:
        # A server that cannot take the end now gets it from the spool, after the points.
        queue.spools.end_run(
            entry.backend, run_id, status=status, end_time=time.time_ns() // 1_000_000
        )
    finally:
        stack.remove(entry)
        STATE.last_run_id = run_id
    if pending is not None:
        if raise_errors:
            raise pending
        import logging

        logging.getLogger(__name__).error("Logging to run %s failed: %s", run_id, pending)


def active_run() -> ActiveRun | None:
    stack = run_stack()
    return stack[-1].run if stack else None


def last_active_run() -> Run | None:
    """The active run, else the last run ended in this process (fetched fresh)."""
    current = active_run()
    if current is not None:
        return current
    if STATE.last_run_id is None:
        return None
    return get_run(STATE.last_run_id)


def get_run(run_id: str) -> Run:
    return current_backend().get_run(run_id)


def delete_run(run_id: str) -> None:
    current_backend().delete_run(run_id)


def target_run(run_id: str | None) -> tuple[TrackingAPI, str]:
    if run_id is not None:
        for entry in run_stack():
            if entry.run_id == run_id:
                return entry.backend, run_id
        return current_backend(), run_id
    stack = run_stack()
    if not stack:
        start_run()
        stack = run_stack()
    entry = stack[-1]
    return entry.backend, entry.run.info.run_id


def known_params(run_id: str) -> dict[str, str] | None:
    """The params this thread knows ``run_id`` has, if it is one of its active runs."""
    for entry in run_stack():
        if entry.run_id == run_id:
            return entry.params
    return None


def _register_atexit() -> None:
    if not STATE.atexit_registered:
        STATE.atexit_registered = True
        atexit.register(_end_runs_at_exit)


def _end_runs_at_exit() -> None:
    # A script that died of an uncaught exception leaves it in sys.last_value.
    status = (
        RunStatus.FAILED if getattr(sys, "last_value", None) is not None else RunStatus.FINISHED
    )
    stack = run_stack()
    bounded = any(getattr(e.backend, "http", None) is not None for e in stack)
    if bounded:
        from mltrail.client import rest_http

        # The exit budget (shared with the logging queue's own exit): a server that is
        # down, or accepts connections and never answers, must not hold the process.
        rest_http.give_up_after(get_queue().flush_timeout)
    while stack:
        timeout = max(0.0, rest_http.time_left() or 0.0) if bounded else None
        try:
            _end_this_run(stack[-1].run_id, status, raise_errors=False, timeout=timeout)
        except BaseException as exc:  # never crash interpreter exit
            import logging

            logging.getLogger(__name__).error("mltrail: could not end run at exit: %s", exc)
            stack.pop()
