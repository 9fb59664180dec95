"""mltrail: an open experiment tracker for machine-learning teams.

The module-level functions are the fluent API (names and behaviour follow ``mlflow``'s);
:class:`TrackingClient` is the explicit client. Importing mltrail loads neither pandas,
NumPy nor SQLAlchemy: they are imported when a function needs them.
"""

from __future__ import annotations

import importlib
from typing import Any

from mltrail.autologging import autolog
from mltrail.client import short_errors as _short_errors
from mltrail.client.batching import run_stats
from mltrail.client.fluent.artifacts import (
    get_artifact_uri,
    log_artifact,
    log_artifacts,
    log_dict,
    log_figure,
    log_image,
    log_text,
)
from mltrail.client.fluent.experiments import (
    create_experiment,
    delete_experiment,
    get_experiment,
    get_experiment_by_name,
    set_experiment,
    set_experiment_tag,
    set_experiment_tags,
)
from mltrail.client.fluent.log_calls import (
    delete_tag,
    flush,
    log_metric,
    log_metrics,
    log_param,
    log_params,
    set_tag,
    set_tags,
)
from mltrail.client.fluent.runs import (
    ActiveRun,
    active_run,
    delete_run,
    end_run,
    get_run,
    last_active_run,
    start_run,
)
from mltrail.client.fluent.search import search_experiments, search_runs
from mltrail.client.fluent.state import (
    get_tracking_uri,
    is_tracking_uri_set,
    set_synchronous,
    set_tracking_uri,
)
from mltrail.client.model_registration import register_model
from mltrail.client.system_metrics import (
    disable_system_metrics_logging,
    enable_system_metrics_logging,
    set_system_metrics_node_id,
    set_system_metrics_samples_before_logging,
    set_system_metrics_sampling_interval,
)
from mltrail.client.tracking_client import TrackingClient
from mltrail.entities import (
    Experiment,
    FileInfo,
    Metric,
    Param,
    Run,
    RunInfo,
    RunStatus,
    RunTag,
    ViewType,
)
from mltrail.errors import MltrailError
from mltrail.version import __version__

# Model flavours live in mltrail.models; ``mltrail.sklearn`` and ``mltrail.pyfunc`` load them on use.
_LAZY_SUBMODULES = {"sklearn": "mltrail.sklearn", "pyfunc": "mltrail.pyfunc"}


def __getattr__(name: str) -> Any:
    target = _LAZY_SUBMODULES.get(name)
    if target is None:
        raise AttributeError(f"module 'mltrail' has no attribute {name!r}")
    module = importlib.import_module(target)
    globals()[name] = module
    return module


__all__ = [
    "ActiveRun",
    "Experiment",
    "FileInfo",
    "Metric",
    "MltrailError",
    "Param",
    "Run",
    "RunInfo",
    "RunStatus",
    "RunTag",
    "TrackingClient",
    "ViewType",
    "__version__",
    "active_run",
    "autolog",
    "create_experiment",
    "delete_experiment",
    "delete_run",
    "delete_tag",
    "disable_system_metrics_logging",
    "enable_system_metrics_logging",
    "end_run",
    "flush",
    "get_artifact_uri",
    "get_experiment",
    "get_experiment_by_name",
    "get_run",
    "get_tracking_uri",
    "is_tracking_uri_set",
    "last_active_run",
    "log_artifact",
    "log_artifacts",
    "log_dict",
    "log_figure",
    "log_image",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "log_text",
    "register_model",
    "run_stats",
    "search_experiments",
    "search_runs",
    "set_experiment",
    "set_experiment_tag",
    "set_experiment_tags",
    "set_synchronous",
    "set_system_metrics_node_id",
    "set_system_metrics_samples_before_logging",
    "set_system_metrics_sampling_interval",
    "set_tag",
    "set_tags",
    "set_tracking_uri",
    "start_run",
]

# A script's uncaught mltrail error is one line that says what to do (MLTRAIL_TRACEBACKS=1: the
# traceback).
_short_errors.install()
