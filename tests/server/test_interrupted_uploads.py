"""Uploads cut short by a killed server leave no file under the real name, and their temporary
files are removed at the next start and by `mltrail gc`."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from mltrail.artifacts.localfile import is_temp_name, remove_stale_temp_files
from mltrail.cli.main import cli

from .conftest import LiveServer

MIB = 1024 * 1024
UPLOAD = "/api/2.0/mlflow-artifacts/artifacts/0/abc/artifacts/model/big.bin"


def _temp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if is_temp_name(p.name)]


def _wait_for(condition: Callable[[], bool], *, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_a_server_killed_mid_upload_leaves_nothing_after_restart(
    server_factory: Callable[..., LiveServer], tmp_path: Path
) -> None:
    env = {"MLTRAIL_STALE_UPLOAD_SECONDS": "0"}
    server = server_factory(env=env)
    destination = tmp_path / "store" / "artifacts"
    final = destination / "0" / "abc" / "artifacts" / "model" / "big.bin"
    halfway = threading.Event()
    release = threading.Event()

    def body() -> Iterator[bytes]:
        for i in range(64):
            if i == 16:
                halfway.set()
                release.wait(30)
            yield os.urandom(MIB)

    def upload() -> None:
        # The server is killed under it.
        with contextlib.suppress(httpx.HTTPError):
            httpx.put(f"{server.url}{UPLOAD}", content=body(), timeout=60)

    sender = threading.Thread(target=upload, daemon=True)
    sender.start()
    assert halfway.wait(30)
    assert _wait_for(lambda: any(p.stat().st_size > 0 for p in _temp_files(destination)))
    server.stop(signal.SIGKILL)
    release.set()
    sender.join(30)

    leftovers = _temp_files(destination)
    assert len(leftovers) == 1 and leftovers[0].parent == final.parent
    assert not final.exists()

    restarted = server_factory(env=env)
    assert _wait_for(lambda: not _temp_files(destination)), _temp_files(destination)
    assert not final.exists()
    with httpx.Client(base_url=restarted.url) as http:
        listed = http.get(
            "/api/2.0/mlflow-artifacts/artifacts", params={"path": "0/abc/artifacts/model"}
        )
        assert listed.status_code == 200 and listed.json().get("files", []) == []
        assert http.get(UPLOAD).status_code == 404


def _leftover(folder: Path, name: str, *, age: float) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f".{name}.part-0123456789abcdef"
    path.write_bytes(b"partial")
    stamp = time.time() - age
    os.utime(path, (stamp, stamp))
    return path


def test_gc_removes_only_stale_leftovers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("MLTRAIL_"):
            monkeypatch.delenv(name)
    store = tmp_path / "store"
    runner = CliRunner()
    # Creates the folder store and its database.
    first = runner.invoke(cli, ["gc", "--backend-store-uri", str(store)])
    assert first.exit_code == 0, first.output
    artifacts = store / "artifacts"
    old = _leftover(artifacts / "1" / "r" / "artifacts", "model.pkl", age=2 * 3600)
    fresh = _leftover(artifacts / "1" / "r" / "artifacts", "data.csv", age=60)
    keep = artifacts / "1" / "r" / "artifacts" / "model.pkl"
    keep.write_bytes(b"complete")

    dry = runner.invoke(cli, ["gc", "--backend-store-uri", str(store), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "Would remove interrupted upload 1/r/artifacts/.model.pkl.part-" in dry.output
    assert old.exists()

    done = runner.invoke(cli, ["gc", "--backend-store-uri", str(store), "-o", "json"])
    assert done.exit_code == 0, done.output
    assert '"interrupted_uploads": [\n    "1/r/artifacts/.model.pkl.part-' in done.output
    assert not old.exists() and fresh.exists() and keep.read_bytes() == b"complete"


def test_cleanup_does_not_follow_symlinks(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    victim = _leftover(outside, "x", age=7200)
    root = tmp_path / "root"
    root.mkdir()
    (root / "link").symlink_to(outside)
    (root / ".y.part-1").symlink_to(victim)
    assert remove_stale_temp_files(root, older_than_seconds=0) == []
    assert victim.exists()
