"""MltrailCallback on a real (tiny, CPU) transformers Trainer: a BERT built from a config with
random weights. Nothing is downloaded: the hub is switched off before transformers loads."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

from pathlib import Path
from typing import Any

import pytest
import torch
from transformers import (
    BertConfig,
    BertForSequenceClassification,
    Trainer,
    TrainingArguments,
)

import mltrail
from mltrail.integrations.transformers import MltrailCallback


class RandomTokens(torch.utils.data.Dataset[dict[str, torch.Tensor]]):
    def __init__(self, n: int) -> None:
        generator = torch.Generator().manual_seed(0)
        self.ids = torch.randint(0, 50, (n, 8), generator=generator)
        self.labels = torch.randint(0, 2, (n,), generator=generator)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"input_ids": self.ids[i], "labels": self.labels[i]}


def _model() -> BertForSequenceClassification:
    config = BertConfig(
        vocab_size=50,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=16,
        num_labels=2,
    )
    return BertForSequenceClassification(config)


def _trainer(callback: MltrailCallback, tmp_path: Path, **kwargs: Any) -> Trainer:
    args = TrainingArguments(
        output_dir=str(tmp_path / "out"),
        max_steps=6,
        per_device_train_batch_size=4,
        per_device_eval_batch_size=8,
        logging_steps=2,
        eval_strategy="steps",
        eval_steps=3,
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        run_name="tiny-bert",
        **kwargs,
    )
    return Trainer(
        model=_model(),
        args=args,
        train_dataset=RandomTokens(32),
        eval_dataset=RandomTokens(8),
        callbacks=[callback],
    )


def _history(run_id: str, key: str) -> list[int]:
    return [m.step for m in mltrail.TrackingClient().get_metric_history(run_id, key)]


def test_a_trainer_run_has_args_losses_eval_metrics_model_and_system_metrics(
    store_dir: Path, tmp_path: Path
) -> None:
    mltrail.set_system_metrics_sampling_interval(0.05)
    callback = MltrailCallback("hf", log_model=True, log_system_metrics=True)
    trainer = _trainer(callback, tmp_path)
    trainer.train()
    run_id = callback.run_id or ""
    run = mltrail.get_run(run_id)
    assert run.info.status == "FINISHED" and run.info.run_name == "tiny-bert"
    assert mltrail.get_experiment(run.info.experiment_id).name == "hf"
    assert run.data.params["max_steps"] == "6"
    assert run.data.params["learning_rate"] == str(trainer.args.learning_rate)
    assert run.data.params["hidden_size"] == "16"  # from the model's config
    assert _history(run_id, "loss") == [2, 4, 6]
    assert _history(run_id, "eval_loss") == [3, 6]
    assert "train_runtime" in run.data.metrics
    assert any(k.startswith("system/cpu_") for k in run.data.metrics)
    client = mltrail.TrackingClient()
    files = {f.path for f in client.list_artifacts(run_id, "model")}
    assert {"model/config.json", "model/model.safetensors"} <= files
    folder = Path(client.download_artifacts(run_id, "model"))
    reloaded = BertForSequenceClassification.from_pretrained(folder)
    sample = RandomTokens(2)[0]["input_ids"].unsqueeze(0)
    model = trainer.model.eval()
    with torch.no_grad():
        assert torch.allclose(reloaded.eval()(sample).logits, model(sample).logits, atol=1e-5)


def test_evaluate_after_training_goes_to_the_same_run(store_dir: Path, tmp_path: Path) -> None:
    callback = MltrailCallback()
    trainer = _trainer(callback, tmp_path)
    trainer.train()
    run_id = callback.run_id or ""
    assert mltrail.active_run() is None  # the run the callback started ended with training
    trainer.evaluate()
    mltrail.flush()
    assert _history(run_id, "eval_loss") == [3, 6, 6]
    assert len(mltrail.search_runs(output_format="list")) == 1


def test_the_active_run_is_used_and_left_open(store_dir: Path, tmp_path: Path) -> None:
    with mltrail.start_run() as run:
        callback = MltrailCallback(log_model=False)
        _trainer(callback, tmp_path).train()
        assert mltrail.active_run() is run
    assert "loss" in mltrail.get_run(run.info.run_id).data.metrics
    assert mltrail.TrackingClient().list_artifacts(run.info.run_id, "model") == []


def test_a_model_that_cannot_be_saved_is_a_warning(
    store_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(BertForSequenceClassification, "save_pretrained", refuse)
    callback = MltrailCallback(log_model=True)
    _trainer(callback, tmp_path).train()
    run_id = callback.run_id or ""
    assert mltrail.get_run(run_id).info.status == "FINISHED"
    assert any("final model was not logged" in r.getMessage() for r in caplog.records)
