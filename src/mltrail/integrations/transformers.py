"""A Hugging Face ``transformers`` callback: ``Trainer(..., callbacks=[MltrailCallback()])``.

At the start of training the ``TrainingArguments`` (and the model's config) become params;
every ``Trainer.log`` call (loss, learning rate, eval metrics, the final summary) becomes
metrics at ``state.global_step``; with ``log_model=True`` the final model (and its tokenizer
or processor) is saved with ``save_pretrained`` and logged as the artifact folder ``model/``.
Only the main process logs. Metrics go through mltrail's logging queue.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

try:
    from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "mltrail.integrations.transformers needs transformers: pip install 'mltrail[transformers]'"
    ) from exc

from mltrail.integrations._runs import RunHandle

logger = logging.getLogger("mltrail.integrations")

MODEL_DIR = "model"


class MltrailCallback(TrainerCallback):
    """Log a ``Trainer`` run to mltrail (to the active run, else to a new one)."""

    def __init__(
        self,
        experiment_name: str | None = None,
        *,
        run_name: str | None = None,
        run_id: str | None = None,
        tags: Mapping[str, Any] | None = None,
        log_model: bool = False,
        log_model_config: bool = True,
        log_system_metrics: bool | None = None,
    ) -> None:
        self._options = {
            "experiment_name": experiment_name,
            "run_id": run_id,
            "tags": tags,
            "log_system_metrics": log_system_metrics,
        }
        self._run_name = run_name
        self._log_model = log_model
        self._log_model_config = log_model_config
        self._run: RunHandle | None = None

    @property
    def run_id(self) -> str | None:
        """The run this callback logs to (None before training started)."""
        return self._run.run_id if self._run is not None else None

    def _setup(self, args: TrainingArguments, model: Any) -> RunHandle:
        if self._run is None:
            self._run = RunHandle(
                run_name=self._run_name or getattr(args, "run_name", None),
                flavor="transformers",
                **self._options,  # type: ignore[arg-type]
            )
            params: dict[str, Any] = {}
            config = getattr(model, "config", None)
            if self._log_model_config and config is not None and hasattr(config, "to_dict"):
                params.update(_flat(config.to_dict()))
            params.update(_flat(cast(Any, args).to_dict()))
            self._run.log_params(params)
        return self._run

    def on_train_begin(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        model: Any = None,
        **kwargs: Any,
    ) -> None:
        if state.is_world_process_zero:
            self._setup(args, model)

    def on_log(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        logs: Mapping[str, Any] | None = None,
        model: Any = None,
        **kwargs: Any,
    ) -> None:
        if not state.is_world_process_zero or not logs:
            return
        self._setup(args, model).log_metrics(logs.items(), state.global_step)

    def on_train_end(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        model: Any = None,
        **kwargs: Any,
    ) -> None:
        if not state.is_world_process_zero or self._run is None:
            return
        if self._log_model and model is not None:
            self._log_final_model(model, kwargs.get("processing_class") or kwargs.get("tokenizer"))
        self._run.end("FINISHED")

    def _log_final_model(self, model: Any, processor: Any) -> None:
        import mltrail

        assert self._run is not None
        try:
            with tempfile.TemporaryDirectory(prefix="mltrail-hf-") as tmp:
                folder = Path(tmp) / MODEL_DIR
                model.save_pretrained(folder)
                if processor is not None and hasattr(processor, "save_pretrained"):
                    processor.save_pretrained(folder)
                mltrail.TrackingClient().log_artifacts(self._run.run_id, folder, MODEL_DIR)
        except Exception as exc:  # the trained model stays in memory; training is done
            logger.warning("mltrail: the final model was not logged: %s", exc)


def _flat(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(_flat(value, f"{name}/"))
        else:
            out[name] = value
    return out
