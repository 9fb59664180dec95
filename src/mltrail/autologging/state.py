"""What autologging shares between its patches: the configuration and the "busy" guard.

While an autologged ``fit`` runs (in any thread), the fits, predictions and metric calls it
makes itself, or that a meta-estimator makes for it (a pipeline's steps, a search's
candidates), run as plain scikit-learn: only the outermost fit is logged, as in MLflow.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger("mltrail.autolog")

FLAVOR_TAG = "mlflow.autologging"


@dataclass(frozen=True)
class SklearnConfig:
    log_input_examples: bool = True
    log_model_signatures: bool = True
    log_models: bool = True
    exclusive: bool = False
    silent: bool = False
    max_tuning_runs: int | None = None
    log_post_training_metrics: bool = True
    serialization_format: str = "skops"
    registered_model_name: str | None = None
    pos_label: Any = None
    extra_tags: Mapping[str, str] = field(default_factory=dict)


class _Busy:
    def __init__(self) -> None:
        self._depth = 0
        self._lock = threading.Lock()

    @property
    def active(self) -> bool:
        return self._depth > 0

    @contextlib.contextmanager
    def scope(self) -> Iterator[None]:
        with self._lock:
            self._depth += 1
        try:
            yield
        finally:
            with self._lock:
                self._depth -= 1


BUSY = _Busy()


class _Current:
    config: SklearnConfig | None = None


CURRENT = _Current()


def config() -> SklearnConfig | None:
    return CURRENT.config


def warn(message: str, *args: Any) -> None:
    cfg = CURRENT.config
    if cfg is None or not cfg.silent:
        logger.warning(message, *args)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Under ``silent=True``, hide the warnings that autologging's own work raises."""
    cfg = CURRENT.config
    if cfg is None or not cfg.silent:
        yield
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield
