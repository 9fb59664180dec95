"""The fluent API: module-level functions over an active run, as in ``mlflow``'s fluent API.

State: the tracking URI, the active experiment and the synchronous flag are global to the
process; the stack of active runs is per thread (as MLflow's). ``log_metric`` and friends
enqueue into the background queue (see :mod:`mltrail.client.batching`) unless synchronous
mode is on (``set_synchronous(True)``, ``MLTRAIL_SYNCHRONOUS=true`` or ``synchronous=True``
on the call), in which case they send immediately and raise at the call site.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, overload

from mltrail.client import context
from mltrail.client.batch_requests import send_batch
from mltrail.client.batching import METRIC, PARAM, TAG, get_queue
from mltrail.client.uris import parse_tracking_uri, resolve_tracking_uri
from mltrail.config import Settings, load_settings
from mltrail.entities import (
    Experiment,
    LifecycleStage,
    Metric,
    Param,
    Run,
    RunStatus,
    RunTag,
    ViewType,
)
from mltrail.errors import (
    InvalidParameterValue,
    InvalidState,
    ResourceAlreadyExists,
    ResourceDoesNotExist,
)
from mltrail.tracking_api import TrackingAPI

if TYPE_CHECKING:
    import pandas as pd

    from mltrail.client.tracking_client import TrackingClient

DEFAULT_EXPERIMENT_ID = "0"
_RUNS_PAGE_SIZE = 1000


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


@dataclass
class _Entry:
    run: ActiveRun
    backend: TrackingAPI

    @property
    def run_id(self) -> str:
        return self.run.info.run_id


class _State:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.tracking_uri: str | None = None
        self.experiment_id: str | None = None
        self.synchronous: bool | None = None
        self.settings: Settings | None = None
        self.backend: TrackingAPI | None = None
        self.client: TrackingClient | None = None
        self.last_run_id: str | None = None
        self.atexit_registered = False


_state = _State()
_local = threading.local()


def _settings() -> Settings:
    settings = _state.settings
    if settings is None:
        settings = _state.settings = load_settings()
    return settings


def _stack() -> list[_Entry]:
    stack: list[_Entry] | None = getattr(_local, "stack", None)
    if stack is None:
        stack = _local.stack = []
    return stack


def _backend() -> TrackingAPI:
    backend = _state.backend
    if backend is None:
        from mltrail.client.backends import get_backend

        with _state.lock:
            backend = _state.backend
            if backend is None:
                backend = _state.backend = get_backend(get_tracking_uri())
    return backend


def _client() -> TrackingClient:
    client = _state.client
    if client is None:
        from mltrail.client.tracking_client import TrackingClient

        client = _state.client = TrackingClient(get_tracking_uri())
    return client


def reset_state() -> None:
    """Forget the tracking URI, experiment, synchronous flag and this thread's runs.

    Queued items and kept errors are dropped. Meant for tests and notebooks that start over.
    """
    with _state.lock:
        _state.tracking_uri = None
        _state.experiment_id = None
        _state.synchronous = None
        _state.settings = None
        _state.backend = None
        _state.client = None
        _state.last_run_id = None
    _local.stack = []
    get_queue().reset()


# -- tracking URI and mode -----------------------------------------------------------
def set_tracking_uri(uri: str | os.PathLike[str]) -> None:
    """Where runs are recorded: a folder, ``sqlite:///x.db``, a database URL or ``http(s)://``.

    Changing the URI forgets the active experiment (its id belongs to the previous store).
    """
    text = os.fspath(uri)
    parse_tracking_uri(text)  # bad URIs fail here, not at the first log call
    with _state.lock:
        if text != _state.tracking_uri:
            _state.tracking_uri = text
            _state.backend = None
            _state.client = None
            _state.experiment_id = None


def get_tracking_uri() -> str:
    return resolve_tracking_uri(_state.tracking_uri)


def is_tracking_uri_set() -> bool:
    return bool(_state.tracking_uri or _settings().tracking_uri)


def set_synchronous(synchronous: bool | None) -> None:
    """Send every log call immediately and raise errors at the call site (``None``: use the
    ``MLTRAIL_SYNCHRONOUS`` setting again)."""
    _state.synchronous = synchronous


def _is_sync(override: bool | None) -> bool:
    if override is not None:
        return override
    flag = _state.synchronous
    return flag if flag is not None else _settings().synchronous


# -- experiments ------------------------------------------------------------------------
def set_experiment(
    experiment_name: str | None = None, experiment_id: str | None = None
) -> Experiment:
    """Make an experiment active (by name, created when missing; or by id, which must exist)."""
    if (experiment_name is None) == (experiment_id is None):
        raise InvalidParameterValue(
            "Must specify exactly one of: `experiment_id` or `experiment_name`."
        )
    backend = _backend()
    with _state.lock:
        if experiment_id is None:
            experiment = _get_or_create_experiment(backend, str(experiment_name))
        else:
            try:
                experiment = backend.get_experiment(str(experiment_id))
            except ResourceDoesNotExist:
                raise ResourceDoesNotExist(
                    f"Experiment with ID '{experiment_id}' does not exist."
                ) from None
        if experiment.lifecycle_stage != LifecycleStage.ACTIVE.value:
            raise InvalidState(
                f"Cannot set a deleted experiment {experiment.name!r} as the active experiment. "
                "You can restore the experiment, or permanently delete the experiment to "
                "create a new one."
            )
        _state.experiment_id = experiment.experiment_id
    return experiment


def _get_or_create_experiment(backend: TrackingAPI, name: str) -> Experiment:
    experiment = backend.get_experiment_by_name(name)
    if experiment is not None:
        return experiment
    try:
        return backend.get_experiment(backend.create_experiment(name))
    except ResourceAlreadyExists:
        # Another process created it between our lookup and our create.
        found = backend.get_experiment_by_name(name)
        if found is None:
            raise
        return found


def _experiment_id() -> str:
    if _state.experiment_id is not None:
        return _state.experiment_id
    settings = _settings()
    if settings.experiment_id:
        return settings.experiment_id
    if settings.experiment_name:
        return set_experiment(settings.experiment_name).experiment_id
    return DEFAULT_EXPERIMENT_ID


def create_experiment(
    name: str, artifact_location: str | None = None, tags: Mapping[str, Any] | None = None
) -> str:
    return _client().create_experiment(name, artifact_location, tags)


def get_experiment(experiment_id: str) -> Experiment:
    return _backend().get_experiment(str(experiment_id))


def get_experiment_by_name(name: str) -> Experiment | None:
    return _backend().get_experiment_by_name(name)


def delete_experiment(experiment_id: str) -> None:
    _backend().delete_experiment(str(experiment_id))


def set_experiment_tag(key: str, value: Any) -> None:
    _backend().set_experiment_tag(_experiment_id(), key=key, value=str(value))


def set_experiment_tags(tags: Mapping[str, Any]) -> None:
    for key, value in tags.items():
        set_experiment_tag(key, value)


def search_experiments(
    view_type: ViewType | int | str = ViewType.ACTIVE_ONLY,
    max_results: int | None = None,
    filter_string: str | None = None,
    order_by: Sequence[str] | None = None,
) -> list[Experiment]:
    """Every matching experiment (all pages), or at most ``max_results``."""
    client = _client()
    found: list[Experiment] = []
    token: str | None = None
    while max_results is None or len(found) < max_results:
        want = (
            _RUNS_PAGE_SIZE
            if max_results is None
            else min(_RUNS_PAGE_SIZE, max_results - len(found))
        )
        page = client.search_experiments(view_type, want, filter_string, order_by, token)
        found.extend(page)
        token = page.token
        if not token:
            break
    return found


# -- runs --------------------------------------------------------------------------------
def start_run(
    run_id: str | None = None,
    experiment_id: str | None = None,
    run_name: str | None = None,
    nested: bool = False,
    tags: Mapping[str, Any] | None = None,
    description: str | None = None,
) -> ActiveRun:
    """Start a new run (or resume ``run_id``) and make it active; use it as a context manager."""
    stack = _stack()
    if stack and not nested:
        raise InvalidState(
            f"Run with UUID {stack[0].run_id} is already active. To start a new run, first end "
            "the current run with mltrail.end_run(). To start a nested run, call start_run "
            "with nested=True"
        )
    backend = _backend()
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
    stack.append(_Entry(active, backend))
    _register_atexit()
    return active


def _create_run(
    backend: TrackingAPI,
    experiment_id: str | None,
    *,
    run_name: str | None,
    tags: dict[str, str],
    stack: list[_Entry],
) -> Run:
    if stack:
        tags[context.PARENT_RUN_ID] = stack[-1].run_id
    if run_name:
        tags[context.RUN_NAME] = run_name
    resolved = {**context.system_tags(), **tags}
    exp_id = str(experiment_id) if experiment_id is not None else _experiment_id()
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
    if _state.experiment_id is not None and _state.experiment_id != run.info.experiment_id:
        raise InvalidParameterValue(
            f"Cannot start run with ID {run_id} because active experiment ID does not match "
            f"the run's experiment ID ({_state.experiment_id} != {run.info.experiment_id})."
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
    stack = _stack()
    if stack:
        _end_this_run(stack[-1].run_id, RunStatus.parse(status), raise_errors=True)


def _end_this_run(
    run_id: str, status: RunStatus, *, raise_errors: bool, timeout: float | None = None
) -> None:
    stack = _stack()
    entry = next((e for e in reversed(stack) if e.run_id == run_id), None)
    if entry is None:
        return
    pending: Exception | None = None
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
        _state.last_run_id = run_id
    if pending is not None:
        if raise_errors:
            raise pending
        import logging

        logging.getLogger(__name__).error("Logging to run %s failed: %s", run_id, pending)


def active_run() -> ActiveRun | None:
    stack = _stack()
    return stack[-1].run if stack else None


def last_active_run() -> Run | None:
    """The active run, else the last run ended in this process (fetched fresh)."""
    current = active_run()
    if current is not None:
        return current
    if _state.last_run_id is None:
        return None
    return get_run(_state.last_run_id)


def get_run(run_id: str) -> Run:
    return _backend().get_run(run_id)


def delete_run(run_id: str) -> None:
    _backend().delete_run(run_id)


def _target(run_id: str | None) -> tuple[TrackingAPI, str]:
    if run_id is not None:
        for entry in _stack():
            if entry.run_id == run_id:
                return entry.backend, run_id
        return _backend(), run_id
    stack: list[_Entry] | None = getattr(_local, "stack", None)
    if not stack:
        start_run()
        stack = _stack()
    entry = stack[-1]
    return entry.backend, entry.run.info.run_id


def _register_atexit() -> None:
    if not _state.atexit_registered:
        _state.atexit_registered = True
        atexit.register(_end_runs_at_exit)


def _end_runs_at_exit() -> None:
    # A script that died of an uncaught exception leaves it in sys.last_value.
    status = (
        RunStatus.FAILED if getattr(sys, "last_value", None) is not None else RunStatus.FINISHED
    )
    stack = _stack()
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


# -- logging -------------------------------------------------------------------------------
def log_metric(
    key: str,
    value: float,
    step: int | None = None,
    *,
    timestamp: int | None = None,
    synchronous: bool | None = None,
    run_id: str | None = None,
) -> None:
    """Log one metric value (``step`` defaults to 0, ``timestamp`` to now in ms)."""
    backend, rid = _target(run_id)
    if type(key) is not str:
        raise InvalidParameterValue(f"Metric key must be a string, got {type(key).__name__}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidParameterValue(
            f"Got invalid value {value!r} for metric {key!r} (expected a number)"
        ) from None
    ts = time.time_ns() // 1_000_000 if timestamp is None else int(timestamp)
    if step is None:
        step = 0
    elif type(step) is not int:
        step = _int_step(step, key)
    if _is_sync(synchronous):
        send_batch(backend, rid, metrics=[Metric(key, number, ts, step)])
    else:
        get_queue().put((METRIC, backend, rid, key, number, ts, step))


def _int_step(step: Any, key: str) -> int:
    from mltrail.client.tracking_client import make_metric

    return make_metric(key, 0.0, timestamp=0, step=step).step


def log_metrics(
    metrics: Mapping[str, float],
    step: int | None = None,
    *,
    timestamp: int | None = None,
    synchronous: bool | None = None,
    run_id: str | None = None,
) -> None:
    """Log several metrics at one step and one timestamp."""
    from mltrail.client.tracking_client import make_metric

    backend, rid = _target(run_id)
    ts = time.time_ns() // 1_000_000 if timestamp is None else int(timestamp)
    points = [make_metric(k, v, timestamp=ts, step=step) for k, v in metrics.items()]
    if _is_sync(synchronous):
        _client().log_batch(rid, metrics=points)
        return
    queue = get_queue()
    for m in points:
        queue.put((METRIC, backend, rid, m.key, m.value, m.timestamp, m.step))


def log_param(
    key: str, value: Any, *, synchronous: bool | None = None, run_id: str | None = None
) -> Any:
    """Log a param (its value is stored as ``str(value)``; params are write-once). Returns value."""
    _log_strings(PARAM, {key: value}, synchronous=synchronous, run_id=run_id)
    return value


def log_params(
    params: Mapping[str, Any], *, synchronous: bool | None = None, run_id: str | None = None
) -> None:
    _log_strings(PARAM, params, synchronous=synchronous, run_id=run_id)


def set_tag(
    key: str, value: Any, *, synchronous: bool | None = None, run_id: str | None = None
) -> None:
    _log_strings(TAG, {key: value}, synchronous=synchronous, run_id=run_id)


def set_tags(
    tags: Mapping[str, Any], *, synchronous: bool | None = None, run_id: str | None = None
) -> None:
    _log_strings(TAG, tags, synchronous=synchronous, run_id=run_id)


def _log_strings(
    kind: int, values: Mapping[str, Any], *, synchronous: bool | None, run_id: str | None
) -> None:
    what = "Param" if kind == PARAM else "Tag"
    for key in values:
        if not isinstance(key, str):
            raise InvalidParameterValue(f"{what} key must be a string, got {type(key).__name__}")
    backend, rid = _target(run_id)
    strings = {k: str(v) for k, v in values.items()}
    if _is_sync(synchronous):
        if kind == PARAM:
            _client().log_batch(rid, params=[Param(k, v) for k, v in strings.items()])
        else:
            _client().log_batch(rid, tags=[RunTag(k, v) for k, v in strings.items()])
        return
    queue = get_queue()
    for k, v in strings.items():
        queue.put((kind, backend, rid, k, v))


def delete_tag(key: str) -> None:
    """Delete a tag of the active run (after what is queued for it has been sent)."""
    backend, rid = _target(None)
    get_queue().flush(run_id=rid)
    backend.delete_tag(rid, key=key)


def flush(timeout: float | None = None) -> None:
    """Wait until every queued value has been sent; raise the first background error kept."""
    get_queue().flush(timeout)


# -- search ------------------------------------------------------------------------------------
@overload
def search_runs(
    experiment_ids: Sequence[str] | None = ...,
    filter_string: str = ...,
    run_view_type: ViewType | int | str = ...,
    max_results: int = ...,
    order_by: Sequence[str] | None = ...,
    output_format: Literal["pandas"] = ...,
    search_all_experiments: bool = ...,
    experiment_names: Sequence[str] | None = ...,
) -> pd.DataFrame: ...


@overload
def search_runs(
    experiment_ids: Sequence[str] | None = ...,
    filter_string: str = ...,
    run_view_type: ViewType | int | str = ...,
    max_results: int = ...,
    order_by: Sequence[str] | None = ...,
    *,
    output_format: Literal["list"],
    search_all_experiments: bool = ...,
    experiment_names: Sequence[str] | None = ...,
) -> list[Run]: ...


def search_runs(
    experiment_ids: Sequence[str] | None = None,
    filter_string: str = "",
    run_view_type: ViewType | int | str = ViewType.ACTIVE_ONLY,
    max_results: int = 100000,
    order_by: Sequence[str] | None = None,
    output_format: str = "pandas",
    search_all_experiments: bool = False,
    experiment_names: Sequence[str] | None = None,
) -> pd.DataFrame | list[Run]:
    """Runs matching ``filter_string`` as a DataFrame (MLflow's columns) or a list of Run."""
    if output_format not in ("pandas", "list"):
        raise InvalidParameterValue(
            f"Unsupported output format: {output_format}. Supported string values are "
            "'pandas' or 'list'"
        )
    ids = _search_experiment_ids(experiment_ids, experiment_names, search_all_experiments)
    runs = _all_runs(ids, filter_string, run_view_type, max_results, order_by) if ids else []
    if output_format == "list":
        return runs
    from mltrail.client.frames import runs_to_frame

    return runs_to_frame(runs)


def _search_experiment_ids(
    experiment_ids: Sequence[str] | None,
    experiment_names: Sequence[str] | None,
    search_all_experiments: bool,
) -> list[str]:
    if experiment_ids and experiment_names:
        raise InvalidParameterValue(
            "Only experiment_ids or experiment_names can be used, but not both"
        )
    if experiment_ids:
        return (
            [experiment_ids]
            if isinstance(experiment_ids, str)
            else [str(i) for i in experiment_ids]
        )
    if experiment_names:
        backend = _backend()
        found = (backend.get_experiment_by_name(n) for n in experiment_names)
        return [e.experiment_id for e in found if e is not None]
    if search_all_experiments:
        return [e.experiment_id for e in search_experiments(ViewType.ACTIVE_ONLY)]
    return [_experiment_id()]


def _all_runs(
    ids: list[str],
    filter_string: str,
    run_view_type: ViewType | int | str,
    max_results: int,
    order_by: Sequence[str] | None,
) -> list[Run]:
    client = _client()
    runs: list[Run] = []
    token: str | None = None
    while len(runs) < max_results:
        want = min(_RUNS_PAGE_SIZE, max_results - len(runs))
        page = client.search_runs(ids, filter_string, run_view_type, want, order_by, token)
        runs.extend(page)
        token = page.token
        if not token:
            break
    return runs


# -- artifacts -----------------------------------------------------------------------------------
def get_artifact_uri(artifact_path: str | None = None) -> str:
    """The artifact URI of the active run, or of ``artifact_path`` inside it."""
    from mltrail.client.artifact_ops import clean_path

    backend, rid = _target(None)
    root = backend.get_run(rid).info.artifact_uri
    rel = clean_path(artifact_path)
    return f"{root.rstrip('/')}/{rel}" if rel else root


def log_artifact(local_path: str | os.PathLike[str], artifact_path: str | None = None) -> None:
    _client().log_artifact(_target(None)[1], local_path, artifact_path)


def log_artifacts(local_dir: str | os.PathLike[str], artifact_path: str | None = None) -> None:
    _client().log_artifacts(_target(None)[1], local_dir, artifact_path)


def log_text(text: str, artifact_file: str) -> None:
    _client().log_text(_target(None)[1], text, artifact_file)


def log_dict(dictionary: Any, artifact_file: str) -> None:
    _client().log_dict(_target(None)[1], dictionary, artifact_file)


def log_figure(figure: Any, artifact_file: str) -> None:
    _client().log_figure(_target(None)[1], figure, artifact_file)


def log_image(image: Any, artifact_file: str) -> None:
    _client().log_image(_target(None)[1], image, artifact_file)
