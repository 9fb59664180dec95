"""One contract for every artifact root: a local folder, S3 (moto's server), GCS (emulator) and
Azure Blob (Azurite)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mltrail.artifacts import open_artifact_store
from mltrail.artifacts.base import ArtifactStore
from mltrail.artifacts.fs import FsspecArtifactStore
from mltrail.config import Settings
from mltrail.entities import FileInfo
from mltrail.errors import ConfigurationError, InvalidParameterValue, ResourceDoesNotExist

from .conftest import AzureEmulator, GcsEmulator, S3Emulator

MIB = 1024 * 1024
BLOCK = 5 * MIB


@dataclass
class Root:
    store: ArtifactStore
    # Every name stored under the root (object keys, or files for a folder), to check that
    # nothing stray (a temporary name, a half-written object) is left behind.
    names: Callable[[], list[str]]


@pytest.fixture(params=["local", "s3", "gs", "az"])
def root(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Root]:
    if request.param == "local":
        base = tmp_path / "root"

        def local_names() -> list[str]:
            if not base.exists():
                return []
            return sorted(p.relative_to(base).as_posix() for p in base.rglob("*") if p.is_file())

        yield Root(open_artifact_store(str(base)), local_names)
    elif request.param == "s3":
        s3: S3Emulator = request.getfixturevalue("s3")
        bucket = s3.new_bucket()
        store = FsspecArtifactStore(
            f"s3://{bucket}/prefix", storage_options=s3.storage_options(), block_size=BLOCK
        )
        yield Root(store, lambda: [k.removeprefix("prefix/") for k in s3.keys(bucket)])
    elif request.param == "gs":
        gcs: GcsEmulator = request.getfixturevalue("gcs")
        bucket = gcs.new_bucket()
        store = FsspecArtifactStore(
            f"gs://{bucket}/prefix", storage_options=gcs.storage_options(), block_size=BLOCK
        )
        yield Root(store, lambda: [k.removeprefix("prefix/") for k in gcs.keys(bucket)])
    else:
        azure: AzureEmulator = request.getfixturevalue("azure")
        container = azure.new_container()
        store = FsspecArtifactStore(
            f"abfs://{container}/prefix", storage_options=azure.storage_options(), block_size=BLOCK
        )
        yield Root(store, lambda: [k.removeprefix("prefix/") for k in azure.keys(container)])


def _read(store: ArtifactStore, path: str, **kw: int) -> bytes:
    return b"".join(store.iter_bytes(path, **kw))


def test_nested_upload_list_and_download(root: Root, tmp_path: Path) -> None:
    store = root.store
    src = tmp_path / "src"
    (src / "model" / "data").mkdir(parents=True)
    (src / "model" / "MLmodel").write_text("flavors: {}\n")
    (src / "model" / "data" / "weights.bin").write_bytes(b"\x00\x01" * 1000)
    (src / "notes.txt").write_text("hello")
    store.upload_dir(src, "out")

    assert store.list("") == [FileInfo(path="out", is_dir=True, file_size=None)]
    assert store.list("out") == [
        FileInfo(path="out/model", is_dir=True, file_size=None),
        FileInfo(path="out/notes.txt", is_dir=False, file_size=5),
    ]
    assert store.list("out/model/data") == [
        FileInfo(path="out/model/data/weights.bin", is_dir=False, file_size=2000)
    ]
    assert store.list("missing") == []
    assert store.is_dir("out/model") and not store.is_dir("out/notes.txt")
    assert store.exists("out/model/MLmodel") and not store.exists("out/nope")

    dst = tmp_path / "dst"
    local = store.download("out/model", dst)
    assert local == (dst / "model").resolve()
    assert (local / "MLmodel").read_text() == "flavors: {}\n"
    assert (local / "data" / "weights.bin").read_bytes() == b"\x00\x01" * 1000
    single = store.download("out/notes.txt", tmp_path / "one")
    assert single.read_text() == "hello"


def test_ranges_and_sizes(root: Root) -> None:
    store = root.store
    store.write_stream("r/bytes.bin", [bytes(range(256))])
    assert store.size("r/bytes.bin") == 256
    assert _read(store, "r/bytes.bin", start=10, end=20) == bytes(range(10, 20))
    assert _read(store, "r/bytes.bin", start=250) == bytes(range(250, 256))
    assert _read(store, "r/bytes.bin", start=100, end=10_000) == bytes(range(100, 256))
    assert _read(store, "r/bytes.bin", start=5, end=5) == b""
    with pytest.raises(InvalidParameterValue):
        store.iter_bytes("r/bytes.bin", start=20, end=10)
    with pytest.raises(ResourceDoesNotExist):
        store.iter_bytes("r/missing.bin")
    with pytest.raises(InvalidParameterValue):
        store.iter_bytes("r")


def test_overwrite_replaces_content(root: Root) -> None:
    store = root.store
    store.write_stream("f.txt", [b"first version, longer"])
    store.write_stream("f.txt", [b"second"])
    assert _read(store, "f.txt") == b"second"
    assert store.size("f.txt") == 6
    assert root.names() == ["f.txt"]


def test_delete_file_folder_and_everything(root: Root) -> None:
    store = root.store
    for name in ("a/1.txt", "a/b/2.txt", "c.txt"):
        store.write_stream(name, [name.encode()])
    store.delete("a/b")
    assert root.names() == ["a/1.txt", "c.txt"]
    store.delete("c.txt")
    assert root.names() == ["a/1.txt"]
    store.delete("does/not/exist")
    store.delete("")
    assert root.names() == []
    assert store.list("") == []


def test_unsafe_paths_are_refused(root: Root) -> None:
    for bad in ("../x", "/etc/passwd", "a/%2e%2e/b", "a\\b", "ok%00.txt"):
        with pytest.raises(InvalidParameterValue):
            root.store.write_stream(bad, [b"x"])
    assert root.names() == []


def test_multi_block_file_streams_through(root: Root, tmp_path: Path) -> None:
    # 12 MiB with 5 MiB blocks: three parts on S3 / GCS / Azure, so the multipart (resumable,
    # block-list) path is exercised.
    data = os.urandom(12 * MIB + 123)
    src = tmp_path / "big.bin"
    src.write_bytes(data)
    root.store.upload_file(src, "big/big.bin")
    assert root.store.size("big/big.bin") == len(data)
    got = hashlib.sha256()
    for chunk in root.store.iter_bytes("big/big.bin", chunk_size=MIB):
        assert len(chunk) <= MIB
        got.update(chunk)
    assert got.hexdigest() == hashlib.sha256(data).hexdigest()
    tail = _read(root.store, "big/big.bin", start=len(data) - 1000)
    assert tail == data[-1000:]
    local = root.store.download("big/big.bin", tmp_path / "down")
    assert hashlib.sha256(local.read_bytes()).digest() == hashlib.sha256(data).digest()
    assert root.names() == ["big/big.bin"]


def _failing_after(n_bytes: int) -> Iterator[bytes]:
    sent = 0
    while sent < n_bytes:
        chunk = os.urandom(MIB)
        sent += len(chunk)
        yield chunk
    raise ConnectionError("client went away")


@pytest.mark.parametrize("size", [MIB, 11 * MIB], ids=["one-block", "multi-block"])
def test_failed_upload_leaves_nothing(root: Root, size: int) -> None:
    with pytest.raises(ConnectionError):
        root.store.write_stream("partial/file.bin", _failing_after(size))
    assert root.names() == []
    assert not root.store.exists("partial/file.bin")


def test_failed_overwrite_keeps_the_old_file(root: Root) -> None:
    root.store.write_stream("keep.txt", [b"old"])
    # Within one block: the GCS emulator answers the cancel of a resumable upload with an error
    # that gcsfs retries for ~30 s (real GCS answers 499), so only one test pays for that.
    with pytest.raises(ConnectionError):
        root.store.write_stream("keep.txt", _failing_after(3 * MIB))
    assert _read(root.store, "keep.txt") == b"old"
    assert root.names() == ["keep.txt"]


def test_aborted_multipart_upload_is_not_left_pending(s3: S3Emulator) -> None:
    bucket = s3.new_bucket()
    store = FsspecArtifactStore(
        f"s3://{bucket}/p", storage_options=s3.storage_options(), block_size=BLOCK
    )
    with pytest.raises(ConnectionError):
        store.write_stream("x.bin", _failing_after(11 * MIB))
    # Parts of an unfinished multipart upload cost storage until aborted.
    assert s3.pending_multipart_uploads(bucket) == []


def test_settings_endpoint_reaches_the_bucket(
    s3_env: S3Emulator, gcs: GcsEmulator, tmp_path: Path
) -> None:
    """open_artifact_store takes the endpoint from Settings and credentials from the usual
    sources (here AWS_* variables for S3, the emulator's anonymous access for GCS)."""
    bucket = s3_env.new_bucket()
    settings = Settings(s3_endpoint_url=s3_env.endpoint_url, gcs_endpoint_url=gcs.endpoint_url)
    s3_store = open_artifact_store(f"s3://{bucket}/root", settings=settings)
    s3_store.write_stream("a.txt", [b"via settings"])
    assert s3_env.keys(bucket) == ["root/a.txt"]

    gbucket = gcs.new_bucket()
    gs_store = open_artifact_store(f"gs://{gbucket}/root", settings=settings)
    assert isinstance(gs_store, FsspecArtifactStore)
    gs_store.write_stream("b.txt", [b"via settings"])
    assert gcs.keys(gbucket) == ["root/b.txt"]


def test_abandoned_azure_blocks_are_never_part_of_a_blob(azure: AzureEmulator) -> None:
    """Azure has no call that drops staged blocks (S3's abort): a failed block-list upload
    leaves its blocks uncommitted, invisible, and Azure deletes them after 7 days. They never
    become part of the blob, and the next upload to the same name discards them."""
    container = azure.new_container()
    store = FsspecArtifactStore(
        f"abfs://{container}/p", storage_options=azure.storage_options(), block_size=BLOCK
    )
    with pytest.raises(ConnectionError):
        store.write_stream("x.bin", _failing_after(11 * MIB))
    assert azure.keys(container) == []
    assert azure.uncommitted_blocks(container, "p/x.bin") > 0
    store.write_stream("x.bin", [b"complete"])
    assert _read(store, "x.bin") == b"complete"
    assert azure.uncommitted_blocks(container, "p/x.bin") == 0


@pytest.mark.parametrize(
    "form",
    [
        "abfs://{container}/root",
        "az://{container}/root",
        "abfss://{container}@devstoreaccount1.dfs.core.windows.net/root",
        "wasbs://{container}@devstoreaccount1.blob.core.windows.net/root",
    ],
    ids=["abfs", "az", "account-qualified", "mlflow-wasbs"],
)
def test_connection_string_from_the_environment_reaches_the_container(
    form: str, azure: AzureEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a user sets for Azure: AZURE_STORAGE_CONNECTION_STRING, endpoint included; mltrail
    needs no setting of its own. The URL may also name the account (as MLflow's do); the
    connection string still says where that account is."""
    for name in list(os.environ):
        if name.startswith("AZURE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azure.connection_string)
    container = azure.new_container()
    store = open_artifact_store(form.format(container=container), settings=Settings())
    store.write_stream("a/b.txt", [b"via the environment"])
    assert azure.keys(container) == ["root/a/b.txt"]
    assert store.list("a") == [FileInfo(path="a/b.txt", is_dir=False, file_size=19)]
    assert _read(store, "a/b.txt") == b"via the environment"


def test_missing_azure_credentials_are_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from adlfs import AzureBlobFileSystem

    for name in list(os.environ):
        if name.startswith("AZURE_"):
            monkeypatch.delenv(name)
    # fsspec reuses a filesystem opened with the same arguments: one from an earlier test
    # (credentials from the environment then) would open without asking for any.
    AzureBlobFileSystem.clear_instance_cache()
    with pytest.raises(ConfigurationError, match="Cannot open artifact root 'abfs://c/root'"):
        open_artifact_store("abfs://c/root", settings=Settings())
