"""A PyTorch Lightning logger: ``Trainer(logger=MltrailLogger(...))``.

Hyper-parameters (``save_hyperparameters()``, ``log_hyperparams``) become params (nested ones
flattened as ``a/b``), every ``self.log`` value a metric at the trainer's global step, and
with ``log_model`` the checkpoints of ``ModelCheckpoint`` become artifacts under
``checkpoints/<name>/`` (``True``: at the end of training; ``"all"``: as they are written).
Metrics go through mltrail's logging queue: a step never waits for the server.
"""

from __future__ import annotations

import logging
import tempfile
from argparse import Namespace
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

try:
    from lightning.fabric.loggers.logger import rank_zero_experiment
    from lightning.fabric.utilities.logger import _add_prefix, _convert_params, _flatten_dict
    from lightning.fabric.utilities.rank_zero import rank_zero_only
    from lightning.pytorch.callbacks import ModelCheckpoint
    from lightning.pytorch.loggers.logger import Logger
    from lightning.pytorch.loggers.utilities import _scan_checkpoints
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "mltrail.integrations.lightning needs PyTorch Lightning: pip install 'mltrail[lightning]'"
    ) from exc

from mltrail.integrations._runs import RunHandle

logger = logging.getLogger("mltrail.integrations")

CHECKPOINTS_DIR = "checkpoints"


class MltrailLogger(Logger):
    """Log a Lightning training run to mltrail (to the active run, else to a new one)."""

    LOGGER_JOIN_CHAR = "-"

    def __init__(
        self,
        experiment_name: str | None = None,
        *,
        run_name: str | None = None,
        run_id: str | None = None,
        tracking_uri: str | None = None,
        tags: Mapping[str, Any] | None = None,
        log_model: bool | Literal["all"] = False,
        prefix: str = "",
        log_system_metrics: bool | None = None,
    ) -> None:
        super().__init__()
        if tracking_uri is not None:
            import mltrail

            mltrail.set_tracking_uri(tracking_uri)
        self._run = RunHandle(
            experiment_name=experiment_name,
            run_name=run_name,
            run_id=run_id,
            tags=tags,
            log_system_metrics=log_system_metrics,
            flavor="lightning",
        )
        self._log_model = log_model
        self._prefix = prefix
        self._checkpoint_callback: ModelCheckpoint | None = None
        self._logged_checkpoints: dict[str, float] = {}

    @property
    def name(self) -> str:
        return self.experiment.get_run(self.run_id).info.experiment_id  # type: ignore[no-any-return]

    @property
    def version(self) -> str:
        return self.run_id

    @property
    def run_id(self) -> str:
        return self._run.run_id

    @property
    @rank_zero_experiment
    def experiment(self) -> Any:
        """An :class:`mltrail.TrackingClient` (the run is opened on first use)."""
        import mltrail

        _ = self._run.run_id
        return mltrail.TrackingClient()

    @rank_zero_only
    def log_hyperparams(
        self, params: dict[str, Any] | Namespace, *args: Any, **kwargs: Any
    ) -> None:
        flat = _flatten_dict(_convert_params(params))
        self._run.log_params(flat)

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        named = _add_prefix(dict(metrics), self._prefix, self.LOGGER_JOIN_CHAR)
        self._run.log_metrics(named.items(), step)

    @rank_zero_only
    def finalize(self, status: str) -> None:
        if self._checkpoint_callback is not None:
            self._log_checkpoints(self._checkpoint_callback)
        self._run.end("FINISHED" if status in ("success", "finished") else "FAILED")

    def after_save_checkpoint(self, checkpoint_callback: ModelCheckpoint) -> None:
        if self._log_model == "all" or (
            self._log_model is True and checkpoint_callback.save_top_k == -1
        ):
            self._log_checkpoints(checkpoint_callback)
        elif self._log_model is True:
            self._checkpoint_callback = checkpoint_callback

    def _log_checkpoints(self, callback: ModelCheckpoint) -> None:
        import mltrail

        client = mltrail.TrackingClient()
        for stamp, path, score, tag in _scan_checkpoints(callback, self._logged_checkpoints):
            where = f"{CHECKPOINTS_DIR}/{Path(path).stem}"
            try:
                client.log_artifact(self.run_id, path, where)
                with tempfile.TemporaryDirectory() as tmp:
                    meta = Path(tmp) / "metadata.json"
                    meta.write_text(_metadata(callback, path, score, tag))
                    client.log_artifact(self.run_id, meta, where)
            except Exception as exc:  # training goes on without this checkpoint
                logger.warning("mltrail: checkpoint %s not logged: %s", path, exc)
                continue
            self._logged_checkpoints[path] = stamp


def _metadata(callback: ModelCheckpoint, path: str, score: Any, tag: str) -> str:
    import json

    value = score.item() if hasattr(score, "item") else score
    return json.dumps(
        {
            "score": value,
            "kind": tag,
            "original_filename": Path(path).name,
            "monitor": callback.monitor,
            "mode": callback.mode,
            "best": path == callback.best_model_path,
        },
        indent=2,
    )
