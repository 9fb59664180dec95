"""What the integrations share: opening the run they log to, and ending it if they opened it.

An integration reuses the active fluent run (the user's ``with mltrail.start_run():``) and
leaves it open; otherwise it starts one, makes it the active run (so ``mltrail.log_*`` calls
in the training code land in it too) and ends it when training ends. Values go through the
logging queue with the run's id, so they reach the run even after it was ended.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

logger = logging.getLogger("mltrail.integrations")

MAX_PARAM_VALUE = 6000


class RunHandle:
    def __init__(
        self,
        *,
        experiment_name: str | None,
        run_name: str | None,
        run_id: str | None,
        tags: Mapping[str, Any] | None,
        log_system_metrics: bool | None,
        flavor: str,
    ) -> None:
        self._experiment_name = experiment_name
        self._run_name = run_name
        self._run_id = run_id
        self._tags = {str(k): str(v) for k, v in (tags or {}).items()}
        self._log_system_metrics = log_system_metrics
        self._flavor = flavor
        self._opened = False
        self.owned = False

    @property
    def run_id(self) -> str:
        """The run's id; the first use opens the run."""
        if not self._opened:
            self._open()
            self._opened = True
        assert self._run_id is not None
        return self._run_id

    def _open(self) -> None:
        import mltrail

        active = mltrail.active_run()
        if active is not None and self._run_id in (None, active.info.run_id):
            self._run_id = active.info.run_id
            if self._tags:
                mltrail.set_tags(self._tags, run_id=self._run_id)
            return
        if self._experiment_name:
            mltrail.set_experiment(self._experiment_name)
        run = mltrail.start_run(
            run_id=self._run_id,
            run_name=self._run_name,
            tags={**self._tags, "mltrail.integration": self._flavor},
            nested=active is not None,
            log_system_metrics=self._log_system_metrics,
        )
        self._run_id = run.info.run_id
        self.owned = True

    def log_params(self, params: Mapping[str, Any]) -> None:
        import mltrail

        clean = {str(k): _param_value(v) for k, v in params.items()}
        if clean:
            mltrail.log_params(clean, run_id=self.run_id)

    def log_metrics(self, metrics: Iterable[tuple[str, Any]], step: int | None) -> None:
        import mltrail

        numbers = {}
        for key, value in metrics:
            number = _number(value)
            if number is None:
                logger.debug("mltrail: %r is not a number; metric %s not logged", value, key)
                continue
            numbers[key] = number
        if numbers:
            mltrail.log_metrics(numbers, step=step or 0, run_id=self.run_id)

    def end(self, status: str) -> None:
        """End the run if this integration started it; errors kept by the queue are warnings."""
        if not self.owned or self._run_id is None:
            return
        from mltrail.client.fluent.runs import end_run_by_id

        self.owned = False
        try:
            end_run_by_id(self._run_id, status)
        except Exception as exc:
            logger.warning("mltrail: run %s ended with logging errors: %s", self._run_id, exc)


def _param_value(value: Any) -> str:
    return str(value)[:MAX_PARAM_VALUE]


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "numel", lambda: 1)() == 1:
        value = item()
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
