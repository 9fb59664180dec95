"""A fresh folder store per test, autologging off before and after."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import mltrail
from mltrail.client.fluent.state import reset_state
from mltrail.client.local import clear_cache


@pytest.fixture
def store_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    for name in ("MLTRAIL_TRACKING_URI", "MLTRAIL_SYNCHRONOUS", "MLTRAIL_EXPERIMENT_NAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    reset_state()
    mltrail.autolog(disable=True)
    folder = tmp_path / "store"
    mltrail.set_tracking_uri(str(folder))
    yield folder
    mltrail.autolog(disable=True)
    while mltrail.active_run() is not None:
        mltrail.end_run()
    reset_state()
    clear_cache()
