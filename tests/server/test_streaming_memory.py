"""A 2 GB artifact through the proxy: server and client memory stay flat, the bytes come back.

The file is sparse with a few random blocks, so it costs no time to make and no disk until the
server writes it; what is measured is the resident memory of the real server process (sampled
from /proc) and the peak of a real client process, against their baselines just before the
transfer.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mltrail.client.tracking_client import TrackingClient

from .conftest import LiveServer

SIZE = 2 * 1024**3
MIB = 1024 * 1024
# Allowed growth over the baseline: a few chunks and buffers, never the file.
MAX_GROWTH = 100 * MIB

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/status").exists(), reason="reads memory figures from /proc"
)


def _status_bytes(pid: int | str, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"{field} missing from /proc/{pid}/status")


class RssSampler:
    """The highest VmRSS of a process while it runs, sampled every few milliseconds."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _status_bytes(self.pid, "VmRSS"))
            time.sleep(0.005)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _make_sparse_file(path: Path) -> str:
    """A SIZE-byte file, mostly holes, with random blocks at both ends and in the middle."""
    with path.open("wb") as fh:
        fh.truncate(SIZE)
        for offset in (0, SIZE // 2 - 12345, SIZE - MIB):
            fh.seek(offset)
            fh.write(os.urandom(MIB))
    return _sha256_of(_read_chunks(path))


def _read_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        while chunk := fh.read(MIB):
            yield chunk


def _sha256_of(chunks: Iterator[bytes]) -> str:
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


@pytest.fixture
def big_file(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "big.bin"
    return path, _make_sparse_file(path)


CLIENT_SCRIPT = """
import json, sys
from pathlib import Path
from mltrail.client.tracking_client import TrackingClient

def status(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024

url, run_id, src, dst = sys.argv[1:]
client = TrackingClient(url)
# Warm up (imports, connection, a small transfer) so the baseline is the steady state.
Path(dst).mkdir()
warm = Path(dst) / "warm.txt"
warm.write_text("warm")
client.log_artifact(run_id, warm, "warm")
client.download_artifacts(run_id, "warm/warm.txt", str(Path(dst) / "warm-dl"))
baseline = status("VmRSS")
client.log_artifact(run_id, src)
after_upload = status("VmHWM")
path = client.download_artifacts(run_id, "big.bin", str(Path(dst) / "dl"))
print(json.dumps({"baseline": baseline, "after_upload": after_upload,
                  "peak": status("VmHWM"), "path": path}))
"""


@pytest.mark.slow
def test_two_gigabytes_through_the_client_keep_memory_flat(
    live_server: LiveServer, big_file: tuple[Path, str], tmp_path: Path
) -> None:
    source, expected = big_file
    run_id = TrackingClient(live_server.url).create_run("0").info.run_id
    server_pid = live_server.process.pid
    server_baseline = _status_bytes(server_pid, "VmRSS")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLTRAIL_")}
    with RssSampler(server_pid) as sampler:
        done = subprocess.run(
            [sys.executable, "-c", CLIENT_SCRIPT, live_server.url, run_id, str(source),
             str(tmp_path / "client")],
            env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout.strip().splitlines()[-1])

    downloaded = Path(figures["path"])
    assert downloaded.stat().st_size == SIZE
    assert _sha256_of(_read_chunks(downloaded)) == expected
    stored = next(live_server.tmp_path.glob(f"store/artifacts/**/{run_id}/artifacts/big.bin"))
    assert stored.stat().st_size == SIZE

    client_growth = figures["peak"] - figures["baseline"]
    assert client_growth <= MAX_GROWTH, f"client grew by {client_growth / MIB:.0f} MiB"
    server_growth = sampler.peak - server_baseline
    assert server_growth <= MAX_GROWTH, f"server grew by {server_growth / MIB:.0f} MiB"


@pytest.mark.slow
def test_two_gigabytes_through_raw_proxy_requests_keep_server_memory_flat(
    live_server: LiveServer, big_file: tuple[Path, str]
) -> None:
    source, expected = big_file
    url = f"{live_server.url}/api/2.0/mlflow-artifacts/artifacts/raw/big.bin"
    server_pid = live_server.process.pid
    with httpx.Client(timeout=300) as http:
        http.put(f"{url}.warm", content=b"warm").raise_for_status()
        server_baseline = _status_bytes(server_pid, "VmRSS")
        with RssSampler(server_pid) as sampler:
            http.put(url, content=_read_chunks(source)).raise_for_status()
            upload_peak = sampler.peak
            with http.stream("GET", url) as answer:
                assert answer.status_code == 200
                assert int(answer.headers["content-length"]) == SIZE
                size = 0
                digest = hashlib.sha256()
                for chunk in answer.iter_bytes():
                    size += len(chunk)
                    digest.update(chunk)
    assert size == SIZE and digest.hexdigest() == expected
    for peak, what in ((upload_peak, "upload"), (sampler.peak, "download")):
        growth = peak - server_baseline
        assert growth <= MAX_GROWTH, f"server grew by {growth / MIB:.0f} MiB during the {what}"
