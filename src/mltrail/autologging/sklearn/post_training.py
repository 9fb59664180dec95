"""Metrics computed after training, on other data, logged to the run that trained the model.

After an autologged fit, ``model.score(X_test, y_test)`` is logged as
``<Estimator>_score_X_test`` and ``accuracy_score(y_test, model.predict(X_test))`` as
``accuracy_score_X_test``: the dataset part is the caller's variable name for the data given
to ``predict``/``score`` (``unknown_dataset`` when there is none); a second call of the same
metric is ``accuracy_score-2_X_test``, another object under the same name ``X_test-2``
(MLflow's scheme). Only ids and names are kept here, never the data or the models
(weak references drop the entries when the objects go away).
"""

from __future__ import annotations

import contextlib
import inspect
import sys
import threading
import weakref
from collections import defaultdict
from types import FrameType
from typing import Any

FALLBACK_DATASET = "unknown_dataset"


class PostTraining:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()
        self._predictions: dict[int, tuple[str, str]] = {}
        self._datasets: dict[str, dict[str, list[int]]] = defaultdict(dict)
        self._calls: dict[str, dict[str, int]] = defaultdict(dict)

    def remember_model(self, model: Any, run_id: str) -> None:
        # Not weak-referenceable or not hashable: no post-training metrics for it.
        with contextlib.suppress(TypeError):
            self._runs[model] = run_id

    def run_of(self, model: Any) -> str | None:
        try:
            return self._runs.get(model)
        except TypeError:
            return None

    def dataset_name(self, run_id: str, data: Any, *, frame: FrameType | None) -> str:
        name = variable_name(data, frame) or FALLBACK_DATASET
        with self._lock:
            ids = self._datasets[run_id].setdefault(name, [])
            if id(data) not in ids:
                ids.append(id(data))
            index = ids.index(id(data))
        return _indexed(name, index)

    def remember_prediction(self, result: Any, *, dataset: str, run_id: str) -> None:
        key = id(result)
        try:
            weakref.finalize(result, self._predictions.pop, key, None)
        except TypeError:  # lists, tuples: cannot tell when they go away, so not tracked
            return
        self._predictions[key] = (dataset, run_id)

    def prediction_in(
        self, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[str, str] | None:
        for value in (*args, *kwargs.values()):
            found = self._predictions.get(id(value))
            if found is not None:
                return found
        return None

    def metric_key(self, run_id: str, metric: str, dataset: str) -> str:
        with self._lock:
            calls = self._calls[run_id]
            index = calls.get(metric, 0)
            calls[metric] = index + 1
        return f"{_indexed(metric, index)}_{dataset}"


def _indexed(name: str, index: int) -> str:
    # '-' cannot appear in a Python name, so an indexed name never meets a variable's.
    return name if index == 0 else f"{name}-{index + 1}"


def variable_name(value: Any, frame: FrameType | None) -> str | None:
    """The name the caller gave ``value``: walk up while it was passed in as an argument."""
    if value is None:
        return None
    try:
        while frame is not None:
            info = inspect.getargvalues(frame)
            passed = [info.locals[a] for a in info.args if a in info.locals]
            if info.varargs:
                passed.extend(info.locals[info.varargs])
            if info.keywords:
                passed.extend(info.locals[info.keywords].values())
            if any(v is value for v in passed):
                frame = frame.f_back
                continue
            for name, held in info.locals.items():
                if held is value:
                    return str(name)
            return None
    except Exception:  # frames of C extensions, odd locals: no name
        return None
    return None


def caller_frame(depth: int) -> FrameType | None:
    try:
        return sys._getframe(depth + 1)
    except ValueError:
        return None


POST = PostTraining()
