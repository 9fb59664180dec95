"""``mltrail artifacts list|download|upload`` and the progress bar of large transfers."""

from __future__ import annotations

import io
import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from mltrail.artifacts import progress
from mltrail.client.tracking_client import TrackingClient

from .conftest import Invoke, clean_env

MIB = 1024 * 1024


@pytest.fixture
def run_id(store: str) -> str:
    client = TrackingClient(store)
    exp = client.create_experiment("arts")
    return client.create_run(exp).info.run_id


def _tree(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    (src / "model").mkdir(parents=True)
    (src / "model" / "MLmodel").write_text("flavors: {}\n")
    (src / "notes.txt").write_text("hello")
    return src


def test_upload_list_download_roundtrip(invoke: Invoke, run_id: str, tmp_path: Path) -> None:
    src = _tree(tmp_path)
    out = invoke("artifacts", "upload", "--run-id", run_id, str(src), "--artifact-path", "out")
    assert f"Uploaded {src} to run {run_id} under out/" in out.stdout
    single = tmp_path / "one.csv"
    single.write_text("a,b\n1,2\n")
    invoke("artifacts", "upload", "-r", run_id, str(single))

    listing = invoke("artifacts", "list", "--run-id", run_id).stdout
    assert "out/" in listing and "one.csv" in listing and "8" in listing
    nested = json.loads(invoke("artifacts", "list", "-r", run_id, "out", "-o", "json").stdout)
    assert nested == [
        {"path": "out/model", "is_dir": True, "file_size": None},
        {"path": "out/notes.txt", "is_dir": False, "file_size": 5},
    ]

    dst = tmp_path / "dst"
    where = invoke("artifacts", "download", "-r", run_id, "out/model", "--dst", str(dst)).stdout
    assert Path(where.strip()) == (dst / "out" / "model").resolve()
    assert (dst / "out" / "model" / "MLmodel").read_text() == "flavors: {}\n"
    everything = tmp_path / "all"
    invoke("artifacts", "download", "-r", run_id, "--dst", str(everything))
    assert (everything / "out" / "notes.txt").read_text() == "hello"
    assert (everything / "one.csv").read_text() == "a,b\n1,2\n"


def test_empty_listing_and_errors(invoke: Invoke, run_id: str, tmp_path: Path) -> None:
    assert "No artifacts." in invoke("artifacts", "list", "-r", run_id).stdout
    bad = invoke("artifacts", "list", "-r", run_id, "../etc", expect=2)
    assert "'..' segments are not allowed" in bad.stderr
    missing = invoke("artifacts", "download", "-r", run_id, "nope.txt", expect=1)
    assert "does not exist" in missing.stderr
    f = tmp_path / "f.txt"
    f.write_text("x")
    unknown = invoke("artifacts", "upload", "-r", "0" * 32, str(f), expect=1)
    assert "Error:" in unknown.stderr and "Traceback" not in unknown.stderr
    escape = invoke("artifacts", "upload", "-r", run_id, str(f), "-p", "/abs", expect=2)
    assert "absolute paths are not allowed" in escape.stderr
    usage = invoke("artifacts", "upload", "-r", run_id, str(tmp_path / "absent"), expect=2)
    assert "does not exist" in usage.stderr


def _run_cli(args: list[str], *, cwd: Path, stderr_tty: bool) -> tuple[int, str]:
    """Run the CLI in a child process with stderr on a pseudo-terminal or a pipe."""
    cmd = [sys.executable, "-m", "mltrail", *args]
    if not stderr_tty:
        done = subprocess.run(
            cmd, cwd=cwd, env=clean_env(), capture_output=True, text=True, timeout=120
        )
        return done.returncode, done.stderr
    leader, follower = pty.openpty()
    try:
        proc = subprocess.Popen(
            cmd, cwd=cwd, env=clean_env(), stdout=subprocess.DEVNULL, stderr=follower
        )
        os.close(follower)
        chunks: list[bytes] = []
        while True:
            try:
                data = os.read(leader, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        code = proc.wait(timeout=120)
    finally:
        os.close(leader)
    return code, b"".join(chunks).decode("utf-8", "replace")


def test_progress_bar_only_on_a_terminal(store: str, run_id: str, tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(9 * MIB))
    up = ["--tracking-uri", store, "artifacts", "upload", "-r", run_id, str(big)]
    code, err = _run_cli(up, cwd=tmp_path, stderr_tty=True)
    assert code == 0, err
    assert "big.bin" in err and "100%" in err and "9.00M/9.00M" in err

    code, err = _run_cli(up, cwd=tmp_path, stderr_tty=False)
    assert code == 0 and err == ""

    down = ["--tracking-uri", store, "artifacts", "download", "-r", run_id, "big.bin"]
    code, err = _run_cli([*down, "--dst", str(tmp_path / "d1")], cwd=tmp_path, stderr_tty=True)
    assert code == 0 and "100%" in err
    assert (tmp_path / "d1" / "big.bin").read_bytes() == big.read_bytes()
    code, err = _run_cli([*down, "--dst", str(tmp_path / "d2")], cwd=tmp_path, stderr_tty=False)
    assert code == 0 and err == ""


def test_progress_bar_through_a_proxying_server(tmp_path: Path) -> None:
    from server.conftest import start_server

    server = start_server(tmp_path)
    try:
        client = TrackingClient(server.url)
        run_id = client.create_run(client.create_experiment("proxied")).info.run_id
        big = tmp_path / "big.bin"
        big.write_bytes(os.urandom(9 * MIB))
        up = ["--tracking-uri", server.url, "artifacts", "upload", "-r", run_id, str(big)]
        code, err = _run_cli(up, cwd=tmp_path, stderr_tty=True)
        assert code == 0, err
        assert "big.bin" in err and "100%" in err
        dst = tmp_path / "down"
        down = ["--tracking-uri", server.url, "artifacts", "download", "-r", run_id, "big.bin"]
        code, err = _run_cli([*down, "--dst", str(dst)], cwd=tmp_path, stderr_tty=True)
        assert code == 0 and "100%" in err
        assert (dst / "big.bin").read_bytes() == big.read_bytes()
    finally:
        server.stop()


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_thresholds_and_rendering() -> None:
    tty = _Tty()
    assert list(progress.track([b"x" * 10], total=10, label="small", stream=tty)) == [b"x" * 10]
    assert tty.getvalue() == ""  # under the threshold
    pipe = io.StringIO()
    big = [b"\0" * MIB] * 9
    assert sum(map(len, progress.track(big, total=9 * MIB, label="p", stream=pipe))) == 9 * MIB
    assert pipe.getvalue() == ""  # not a terminal

    chunks = progress.track(big, total=9 * MIB, label="model/weights.bin", stream=tty)
    assert sum(map(len, chunks)) == 9 * MIB
    text = tty.getvalue()
    assert text.startswith("\r") and text.endswith("\n")
    assert "model/weights.bin" in text and "100%" in text and "9.00M/9.00M" in text


def test_progress_bar_ends_its_line_on_error() -> None:
    tty = _Tty()

    def failing() -> list[bytes]:
        raise ConnectionError("dropped")

    def chunks() -> object:
        yield b"\0" * MIB
        failing()

    with pytest.raises(ConnectionError):
        for _ in progress.track(chunks(), total=20 * MIB, label="f", stream=tty):  # type: ignore[arg-type]
            pass
    assert tty.getvalue().endswith("\n")
