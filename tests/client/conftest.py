"""A fresh folder store per test, with the fluent state reset around it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import mltrail
from mltrail.client import fluent
from mltrail.client.local import clear_cache


@pytest.fixture
def store_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty folder store under tmp_path, set as the tracking URI; cwd is tmp_path."""
    for name in (
        "MLTRAIL_TRACKING_URI",
        "MLTRAIL_SYNCHRONOUS",
        "MLTRAIL_EXPERIMENT_NAME",
        "MLTRAIL_EXPERIMENT_ID",
        "MLTRAIL_BATCH_MAX_POINTS",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    fluent.reset_state()
    folder = tmp_path / "store"
    mltrail.set_tracking_uri(str(folder))
    yield folder
    while mltrail.active_run() is not None:
        mltrail.end_run()
    fluent.reset_state()
    clear_cache()


@pytest.fixture
def client(store_dir: Path) -> mltrail.TrackingClient:
    return mltrail.TrackingClient(str(store_dir))
