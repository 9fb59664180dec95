"""MltrailLogger on real (tiny, CPU) PyTorch Lightning training: a 2-layer MLP on random data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import mltrail
from mltrail.client.system_metrics import control
from mltrail.integrations.lightning import MltrailLogger


class TinyMLP(LightningModule):
    def __init__(self, hidden: int = 8, lr: float = 0.05, optim: dict[str, Any] | None = None):
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(nn.Linear(4, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        loss = nn.functional.mse_loss(self.net(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        self.log("val_loss", nn.functional.mse_loss(self.net(x), y))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


def _loaders() -> tuple[DataLoader[Any], DataLoader[Any]]:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(64, 4, generator=generator)
    y = x.sum(dim=1, keepdim=True)
    data = TensorDataset(x, y)
    return DataLoader(data, batch_size=8), DataLoader(data, batch_size=32)


def _trainer(logger: MltrailLogger, tmp_path: Path, **kwargs: Any) -> Trainer:
    options: dict[str, Any] = {
        "max_epochs": 2,
        "log_every_n_steps": 2,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "accelerator": "cpu",
        **kwargs,
    }
    return Trainer(logger=logger, default_root_dir=tmp_path, **options)


def _history(run_id: str, key: str) -> list[tuple[int, float]]:
    client = mltrail.TrackingClient()
    return [(m.step, m.value) for m in client.get_metric_history(run_id, key)]


def test_a_lightning_run_has_params_step_metrics_checkpoints_and_system_metrics(
    store_dir: Path, tmp_path: Path
) -> None:
    mltrail.set_system_metrics_sampling_interval(0.05)
    logger = MltrailLogger("lightning-exp", run_name="mlp", log_model=True, log_system_metrics=True)
    checkpoint = ModelCheckpoint(monitor="val_loss", save_top_k=1)
    train, val = _loaders()
    _trainer(logger, tmp_path, callbacks=[checkpoint]).fit(
        TinyMLP(optim={"momentum": 0.9}), train, val
    )
    run = mltrail.get_run(logger.run_id)
    assert run.info.status == "FINISHED" and run.info.run_name == "mlp"
    assert mltrail.active_run() is None
    assert mltrail.get_experiment(run.info.experiment_id).name == "lightning-exp"
    assert run.data.params["hidden"] == "8" and run.data.params["lr"] == "0.05"
    assert run.data.params["optim/momentum"] == "0.9"
    losses = _history(logger.run_id, "train_loss")
    # 8 batches x 2 epochs, logged every 2 steps: at the global step, increasing.
    steps = [s for s, _ in losses]
    assert len(steps) == 8 and steps == sorted(steps) and steps[-1] >= 14
    assert [s for s, _ in _history(logger.run_id, "val_loss")] == [7, 15]
    assert any(k.startswith("system/cpu_") for k in run.data.metrics)
    client = mltrail.TrackingClient()
    folders = [f.path for f in client.list_artifacts(logger.run_id, "checkpoints")]
    assert len(folders) == 1
    files = {f.path.rsplit("/", 1)[-1] for f in client.list_artifacts(logger.run_id, folders[0])}
    assert files == {Path(checkpoint.best_model_path).name, "metadata.json"}
    meta = json.loads(
        (Path(client.download_artifacts(logger.run_id, f"{folders[0]}/metadata.json"))).read_text()
    )
    assert meta["monitor"] == "val_loss" and meta["best"] is True
    state = torch.load(
        client.download_artifacts(
            logger.run_id, f"{folders[0]}/{Path(checkpoint.best_model_path).name}"
        ),
        weights_only=False,
    )
    assert "state_dict" in state


def test_the_active_run_is_used_and_left_open(store_dir: Path, tmp_path: Path) -> None:
    train, val = _loaders()
    with mltrail.start_run() as run:
        logger = MltrailLogger(prefix="fit")
        _trainer(logger, tmp_path, max_epochs=1, limit_val_batches=0).fit(TinyMLP(), train, val)
        assert logger.run_id == run.info.run_id
        assert mltrail.active_run() is run
    stored = mltrail.get_run(run.info.run_id)
    assert "fit-train_loss" in stored.data.metrics
    assert control.sampler_of(run.info.run_id) is None
    assert len(mltrail.search_runs(output_format="list")) == 1


def test_all_checkpoints_as_they_are_written(store_dir: Path, tmp_path: Path) -> None:
    train, val = _loaders()
    logger = MltrailLogger(log_model="all")
    checkpoint = ModelCheckpoint(every_n_epochs=1, save_top_k=-1, filename="{epoch}")
    trainer = _trainer(logger, tmp_path, callbacks=[checkpoint], limit_val_batches=0)
    trainer.fit(TinyMLP(), train, val)
    folders = sorted(
        f.path for f in mltrail.TrackingClient().list_artifacts(logger.run_id, "checkpoints")
    )
    assert folders == ["checkpoints/epoch=0", "checkpoints/epoch=1"]


class Exploding(TinyMLP):
    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        if self.global_step == 3:
            raise RuntimeError("boom")
        return super().training_step(batch, batch_idx)


def test_a_failed_training_fails_the_run(store_dir: Path, tmp_path: Path) -> None:
    train, val = _loaders()
    logger = MltrailLogger(log_system_metrics=False)
    with pytest.raises(RuntimeError, match="boom"):
        _trainer(logger, tmp_path, limit_val_batches=0).fit(Exploding(), train, val)
    run = mltrail.get_run(logger.run_id)
    assert run.info.status == "FAILED"
    assert len(_history(logger.run_id, "train_loss")) == 1  # step 2, before it blew up
