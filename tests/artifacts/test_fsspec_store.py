from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import fsspec
import pytest

from mltrail.artifacts import open_artifact_store
from mltrail.artifacts.fs import FsspecArtifactStore
from mltrail.artifacts.local import LocalArtifactStore
from mltrail.config import Settings
from mltrail.entities import FileInfo
from mltrail.errors import ConfigurationError, InvalidParameterValue, ResourceDoesNotExist


@pytest.fixture(params=["memory", "fsspec-file"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FsspecArtifactStore]:
    if request.param == "memory":
        root = f"memory://mltrail-test-{uuid.uuid4().hex}/artifacts"
        yield FsspecArtifactStore(root)
        fsspec.filesystem("memory").rm(root.removeprefix("memory:/"), recursive=True)
    else:
        yield FsspecArtifactStore(f"file://{tmp_path}/root")


def _memory_names(store: FsspecArtifactStore) -> list[str]:
    fs = fsspec.filesystem("memory")
    base = store.root.removeprefix("memory:/")
    return sorted(fs.find(base)) if fs.exists(base) else []


def _failing_chunks() -> Iterator[bytes]:
    yield b"partial"
    raise RuntimeError("connection dropped")


def test_roundtrip_and_ranges(store: FsspecArtifactStore) -> None:
    assert store.write_stream("a/b/c.bin", [b"01234", b"56789"]) == 10
    assert store.exists("a/b/c.bin") and store.is_dir("a/b") and not store.is_dir("a/b/c.bin")
    assert store.size("a/b/c.bin") == 10
    assert b"".join(store.iter_bytes("a/b/c.bin", chunk_size=3)) == b"0123456789"
    assert b"".join(store.iter_bytes("a/b/c.bin", start=2, end=5)) == b"234"
    assert b"".join(store.iter_bytes("a/b/c.bin", start=7, end=99)) == b"789"
    with pytest.raises(InvalidParameterValue, match="range"):
        store.iter_bytes("a/b/c.bin", start=5, end=1)


def test_errors(store: FsspecArtifactStore) -> None:
    with pytest.raises(ResourceDoesNotExist):
        store.iter_bytes("missing")
    with pytest.raises(ResourceDoesNotExist):
        store.size("missing")
    store.write_stream("d/f", [b"x"])
    with pytest.raises(InvalidParameterValue, match="folder"):
        store.iter_bytes("d")
    with pytest.raises(InvalidParameterValue, match="folder"):
        store.write_stream("d", [b"x"])
    for bad in ["../x", "%2e%2e/x", "/abs", "a\\b"]:
        with pytest.raises(InvalidParameterValue, match="Invalid path"):
            store.write_stream(bad, [b"x"])
        with pytest.raises(InvalidParameterValue, match="Invalid path"):
            store.list(bad)


def test_failed_write_leaves_nothing(store: FsspecArtifactStore) -> None:
    store.write_stream("keep.txt", [b"complete"])
    with pytest.raises(RuntimeError):
        store.write_stream("sub/new.txt", _failing_chunks())
    with pytest.raises(RuntimeError):
        store.write_stream("keep.txt", _failing_chunks())
    assert not store.exists("sub/new.txt")
    assert b"".join(store.iter_bytes("keep.txt")) == b"complete"
    assert [i.path for i in store.list() if not i.is_dir] == ["keep.txt"]
    assert store.list("sub") == []


def test_memory_failed_write_has_no_temp_leftovers() -> None:
    root = f"memory://mltrail-test-{uuid.uuid4().hex}"
    store = FsspecArtifactStore(root)
    with pytest.raises(RuntimeError):
        store.write_stream("x/y.txt", _failing_chunks())
    store.write_stream("x/ok.txt", [b"ok"])
    assert [n.rsplit("/", 1)[-1] for n in _memory_names(store)] == ["ok.txt"]


def test_list_nested_and_download(store: FsspecArtifactStore, tmp_path: Path) -> None:
    for name in ["m/MLmodel", "m/data/w.bin", "m/data/sub/v.bin", "b.txt", "a.txt"]:
        store.write_stream(name, [name.encode()])
    assert store.list() == [
        FileInfo("m", True, None),
        FileInfo("a.txt", False, 5),
        FileInfo("b.txt", False, 5),
    ]
    assert store.list("m/") == [FileInfo("m/data", True, None), FileInfo("m/MLmodel", False, 9)]
    assert store.list("missing") == [] and store.list("a.txt") == []
    got = store.download("m", tmp_path / "dl")
    files = sorted(p.relative_to(got).as_posix() for p in got.rglob("*") if p.is_file())
    assert files == ["MLmodel", "data/sub/v.bin", "data/w.bin"]
    assert (got / "data" / "sub" / "v.bin").read_bytes() == b"m/data/sub/v.bin"
    assert store.download("a.txt", tmp_path / "one").read_bytes() == b"a.txt"


def test_upload_dir_and_delete(store: FsspecArtifactStore, tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "n").mkdir(parents=True)
    (src / "top.txt").write_text("t")
    (src / "n" / "inner.txt").write_text("i")
    store.upload_dir(src, "up")
    assert [i.path for i in store.list("up")] == ["up/n", "up/top.txt"]
    assert b"".join(store.iter_bytes("up/n/inner.txt")) == b"i"
    store.delete("up/n")
    assert not store.exists("up/n/inner.txt") and store.exists("up/top.txt")
    store.delete("does-not-exist")
    store.delete()
    assert store.list() == []


def test_open_artifact_store_dispatch(tmp_path: Path) -> None:
    assert isinstance(open_artifact_store(str(tmp_path)), LocalArtifactStore)
    assert isinstance(open_artifact_store(f"file://{tmp_path}"), LocalArtifactStore)
    mem = open_artifact_store(f"memory://mltrail-test-{uuid.uuid4().hex}")
    assert isinstance(mem, FsspecArtifactStore)
    for uri in ["", "mlflow-artifacts:/1", "http://host/x", "runs:/abc/model"]:
        with pytest.raises(ConfigurationError):
            open_artifact_store(uri)
    with pytest.raises(ConfigurationError, match="Unsupported artifact root"):
        open_artifact_store("nosuchproto://bucket/x", settings=Settings())
