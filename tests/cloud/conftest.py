"""Cloud buckets for tests: moto's S3 server, a GCS emulator and Azurite (Azure Blob), one
process each per session.

The emulators run as real HTTP servers on loopback; our code reaches them the way it reaches a
cloud: through s3fs / gcsfs / adlfs with an endpoint URL from Settings, storage options, or (for
Azure) the connection string a user sets in ``AZURE_STORAGE_CONNECTION_STRING``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from harness.servers import free_port

# gcsfs otherwise first asks the bucket type over gRPC, which the emulator never answers (60 s
# per bucket). Set before gcsfs is imported anywhere in the test process.
os.environ["GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT"] = "false"

ACCESS_KEY = "testing"
SECRET_KEY = "testing"
REGION = "us-east-1"
BIN = Path(sys.executable).parent
REPO_ROOT = Path(__file__).resolve().parents[2]
# Azurite's built-in development account and its published key (the same in every install).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


def _wait_until_up(url: str, proc: subprocess.Popen[bytes], *, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"emulator exited with {proc.returncode} before answering {url}")
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"emulator did not answer {url} within {timeout} s")


def _start(args: list[str], url: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_until_up(url, proc)
    except BaseException:
        _stop(proc)
        raise
    return proc


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@dataclass(frozen=True)
class S3Emulator:
    endpoint_url: str

    def env(self) -> dict[str, str]:
        """What a process needs in its environment to reach this S3 with its own credentials."""
        return {
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_DEFAULT_REGION": REGION,
            "MLTRAIL_S3_ENDPOINT_URL": self.endpoint_url,
        }

    def client(self) -> object:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name=REGION,
        )

    def storage_options(self) -> dict[str, object]:
        return {"endpoint_url": self.endpoint_url, "key": ACCESS_KEY, "secret": SECRET_KEY}

    def new_bucket(self) -> str:
        name = f"mltrail-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)  # type: ignore[attr-defined]
        return name

    def keys(self, bucket: str) -> list[str]:
        client = self.client()
        out: list[str] = []
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):  # type: ignore[attr-defined]
            out.extend(obj["Key"] for obj in page.get("Contents", []))
        return sorted(out)

    def pending_multipart_uploads(self, bucket: str) -> list[str]:
        answer = self.client().list_multipart_uploads(Bucket=bucket)  # type: ignore[attr-defined]
        return [u["Key"] for u in answer.get("Uploads", [])]


@dataclass(frozen=True)
class GcsEmulator:
    endpoint_url: str

    def storage_options(self) -> dict[str, object]:
        return {"endpoint_url": self.endpoint_url, "token": "anon", "project": "test"}

    def filesystem(self) -> object:
        import gcsfs

        return gcsfs.GCSFileSystem(**self.storage_options(), skip_instance_cache=True)

    def new_bucket(self) -> str:
        name = f"mltrail-{uuid.uuid4().hex[:12]}"
        self.filesystem().mkdir(name)  # type: ignore[attr-defined]
        return name

    def keys(self, bucket: str) -> list[str]:
        fs = self.filesystem()
        found = fs.find(bucket)  # type: ignore[attr-defined]
        return sorted(str(p).removeprefix(f"{bucket}/") for p in found)


@dataclass(frozen=True)
class AzureEmulator:
    # Azurite serves the account under a path: http://127.0.0.1:<port>/devstoreaccount1
    blob_endpoint: str

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};"
            f"AccountKey={AZURITE_KEY};BlobEndpoint={self.blob_endpoint};"
        )

    def env(self) -> dict[str, str]:
        """What a process needs in its environment to reach this account (adlfs reads it)."""
        return {"AZURE_STORAGE_CONNECTION_STRING": self.connection_string}

    def storage_options(self) -> dict[str, object]:
        return {"connection_string": self.connection_string}

    def client(self) -> object:
        # The Azure SDK itself, not adlfs: what the tests check is seen independently of the
        # code under test (as boto3 is for S3).
        from azure.storage.blob import BlobServiceClient

        return BlobServiceClient.from_connection_string(self.connection_string)

    def new_container(self) -> str:
        name = f"mltrail-{uuid.uuid4().hex[:12]}"
        self.client().create_container(name)  # type: ignore[attr-defined]
        return name

    def keys(self, container: str) -> list[str]:
        """Committed blobs, the only ones a listing shows."""
        names = self.client().get_container_client(container).list_blob_names()  # type: ignore[attr-defined]
        return sorted(str(n) for n in names)

    def uncommitted_blocks(self, container: str, blob: str) -> int:
        """Blocks staged for ``blob`` but never committed: they are not part of any blob."""
        from azure.core.exceptions import ResourceNotFoundError

        client = self.client().get_blob_client(container, blob)  # type: ignore[attr-defined]
        try:
            _, uncommitted = client.get_block_list("uncommitted")
        except ResourceNotFoundError:
            return 0
        return len(uncommitted)


@pytest.fixture(scope="session")
def s3() -> Iterator[S3Emulator]:
    exe = shutil.which("moto_server", path=str(BIN)) or "moto_server"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = _start([exe, "-H", "127.0.0.1", "-p", str(port)], url)
    try:
        yield S3Emulator(url)
    finally:
        _stop(proc)


@pytest.fixture(scope="session")
def gcs() -> Iterator[GcsEmulator]:
    exe = shutil.which("gcp-storage-emulator", path=str(BIN)) or "gcp-storage-emulator"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = _start([exe, "start", "--host=127.0.0.1", f"--port={port}", "--in-memory"], url)
    try:
        yield GcsEmulator(url)
    finally:
        _stop(proc)


def _azurite_blob() -> Path:
    configured = os.environ.get("MLTRAIL_TEST_AZURITE")
    path = (
        Path(configured)
        if configured
        else REPO_ROOT / ".tools" / "azurite" / "node_modules" / ".bin" / "azurite-blob"
    )
    if not path.exists():
        pytest.fail(f"{path} is missing: run `make install-azurite`")
    return path


@pytest.fixture(scope="session")
def azure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AzureEmulator]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = [str(_azurite_blob()), "--blobHost", "127.0.0.1", "--blobPort", str(port)]
    args += ["--location", str(tmp_path_factory.mktemp("azurite")), "--silent"]
    # The Azure SDK may be newer than the emulator's REST API version; telemetry would try to
    # reach the internet.
    args += ["--skipApiVersionCheck", "--disableTelemetry"]
    proc = _start(args, url)
    try:
        yield AzureEmulator(f"{url}/{AZURITE_ACCOUNT}")
    finally:
        _stop(proc)


@pytest.fixture
def s3_env(s3: S3Emulator, monkeypatch: pytest.MonkeyPatch) -> S3Emulator:
    """Credentials and endpoint in this process's environment, as a user would set them."""
    for name, value in s3.env().items():
        monkeypatch.setenv(name, value)
    return s3


@dataclass(frozen=True)
class Bucket:
    """A new, empty bucket (an Azure container) on one emulator, for the server tests."""

    url: str  # scheme://bucket
    # What a server (or a direct-mode client) needs in its environment to reach it.
    env: dict[str, str]
    # Every object key in the bucket, sorted.
    keys: Callable[[], list[str]]


def new_bucket(cloud: str, request: pytest.FixtureRequest) -> Bucket:
    """A bucket on the emulator for ``cloud`` ("s3", "gs" or "az"), started on first use."""
    if cloud == "s3":
        s3: S3Emulator = request.getfixturevalue("s3")
        name = s3.new_bucket()
        return Bucket(f"s3://{name}", s3.env(), lambda: s3.keys(name))
    if cloud == "gs":
        gcs: GcsEmulator = request.getfixturevalue("gcs")
        name = gcs.new_bucket()
        # fsspec takes filesystem options from FSSPEC_<PROTOCOL>_<OPTION> variables; the
        # emulator wants anonymous access.
        env = {
            "MLTRAIL_GCS_ENDPOINT_URL": gcs.endpoint_url,
            "FSSPEC_GS_TOKEN": "anon",
            "FSSPEC_GS_PROJECT": "test",
            "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false",
        }
        return Bucket(f"gs://{name}", env, lambda: gcs.keys(name))
    if cloud == "az":
        azure: AzureEmulator = request.getfixturevalue("azure")
        name = azure.new_container()
        return Bucket(f"abfs://{name}", azure.env(), lambda: azure.keys(name))
    raise ValueError(f"unknown cloud {cloud!r}")


@dataclass
class Server:
    url: str
    db_uri: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


@contextmanager
def start_bucket_server(
    args: list[str], *, tmp_path: Path, env: dict[str, str]
) -> Iterator[Server]:
    port = free_port()
    db_uri = f"sqlite:///{tmp_path / 'server.db'}"
    log_path = tmp_path / "server.log"
    full_env = {
        k: v for k, v in os.environ.items() if not k.startswith(("MLTRAIL_", "AWS_", "AZURE_"))
    }
    full_env.update(env, MLTRAIL_NO_AUTH="true")
    cmd = [sys.executable, "-m", "mltrail", "server", "--port", str(port)]
    cmd += ["--backend-store-uri", db_uri, *args]
    server = Server(url=f"http://127.0.0.1:{port}", db_uri=db_uri, log_path=log_path)
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            cmd, env=full_env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"server exited with {proc.returncode}:\n{server.log()}")
            try:
                if httpx.get(f"{server.url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"server did not come up:\n{server.log()}")
            time.sleep(0.2)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
