from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from mltrail.artifacts.local import LocalArtifactStore
from mltrail.entities import FileInfo
from mltrail.errors import InvalidParameterValue, ResourceDoesNotExist


@pytest.fixture
def store(tmp_path: Path) -> LocalArtifactStore:
    return LocalArtifactStore(tmp_path / "root")


def _all_files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_write_read_roundtrip(store: LocalArtifactStore) -> None:
    assert store.write_stream("a/b/c.txt", [b"hello ", b"world"]) == 11
    assert store.exists("a/b/c.txt")
    assert not store.is_dir("a/b/c.txt")
    assert store.is_dir("a/b")
    assert store.size("a/b/c.txt") == 11
    assert b"".join(store.iter_bytes("a/b/c.txt")) == b"hello world"
    assert b"".join(store.iter_bytes("a/b/c.txt", chunk_size=2)) == b"hello world"


def test_file_uri_root(tmp_path: Path) -> None:
    store = LocalArtifactStore(f"file://{tmp_path}/with%20space")
    store.write_stream("x.txt", [b"1"])
    assert (tmp_path / "with space" / "x.txt").read_bytes() == b"1"
    assert store.root == str(tmp_path / "with space")


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (0, None, b"0123456789"),
        (3, None, b"3456789"),
        (2, 5, b"234"),
        (8, 100, b"89"),
        (10, None, b""),
        (4, 4, b""),
    ],
)
def test_ranges(store: LocalArtifactStore, start: int, end: int | None, expected: bytes) -> None:
    store.write_stream("r.bin", [b"0123456789"])
    assert b"".join(store.iter_bytes("r.bin", start=start, end=end, chunk_size=3)) == expected


@pytest.mark.parametrize(("start", "end"), [(-1, None), (5, 2)])
def test_bad_ranges(store: LocalArtifactStore, start: int, end: int | None) -> None:
    store.write_stream("r.bin", [b"0123456789"])
    with pytest.raises(InvalidParameterValue, match="range"):
        store.iter_bytes("r.bin", start=start, end=end)


def test_missing_and_folder_errors(store: LocalArtifactStore) -> None:
    with pytest.raises(ResourceDoesNotExist):
        store.iter_bytes("nope.txt")
    with pytest.raises(ResourceDoesNotExist):
        store.size("nope.txt")
    store.write_stream("d/f.txt", [b"x"])
    with pytest.raises(InvalidParameterValue, match="folder"):
        store.iter_bytes("d")
    with pytest.raises(InvalidParameterValue, match="folder"):
        store.write_stream("d", [b"x"])
    with pytest.raises(InvalidParameterValue, match="parent"):
        store.write_stream("d/f.txt/inner", [b"x"])
    with pytest.raises(InvalidParameterValue):
        store.write_stream("", [b"x"])


def test_overwrite_replaces(store: LocalArtifactStore) -> None:
    store.write_stream("f.txt", [b"old content"])
    store.write_stream("f.txt", [b"new"])
    assert b"".join(store.iter_bytes("f.txt")) == b"new"


def _failing_chunks() -> Iterator[bytes]:
    yield b"partial data"
    raise RuntimeError("connection dropped")


def test_failed_write_leaves_nothing(store: LocalArtifactStore, tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="connection dropped"):
        store.write_stream("sub/f.txt", _failing_chunks())
    assert not store.exists("sub/f.txt")
    assert _all_files(tmp_path / "root") == []


def test_failed_overwrite_keeps_previous_file(store: LocalArtifactStore, tmp_path: Path) -> None:
    store.write_stream("f.txt", [b"complete"])
    with pytest.raises(RuntimeError):
        store.write_stream("f.txt", _failing_chunks())
    assert b"".join(store.iter_bytes("f.txt")) == b"complete"
    assert _all_files(tmp_path / "root") == ["f.txt"]


def test_temp_file_is_used_and_hidden(store: LocalArtifactStore, tmp_path: Path) -> None:
    seen: list[list[str]] = []

    def chunks() -> Iterator[bytes]:
        yield b"a"
        seen.append(sorted(os.listdir(tmp_path / "root")))
        # A listing during the upload shows neither the final name nor the temporary one.
        seen.append([i.path for i in store.list()])
        yield b"b"

    store.write_stream("final.txt", chunks())
    assert len(seen[0]) == 1 and seen[0][0].startswith(".final.txt.part-")
    assert seen[1] == []
    assert os.listdir(tmp_path / "root") == ["final.txt"]


def test_list_nested(store: LocalArtifactStore) -> None:
    for name in ["b.txt", "a.txt", "z/1.txt", "m/deep/x.bin", "m/y.txt"]:
        store.write_stream(name, [name.encode()])
    assert store.list() == [
        FileInfo("m", True, None),
        FileInfo("z", True, None),
        FileInfo("a.txt", False, 5),
        FileInfo("b.txt", False, 5),
    ]
    assert store.list("m") == [FileInfo("m/deep", True, None), FileInfo("m/y.txt", False, 7)]
    assert store.list("m/deep/") == [FileInfo("m/deep/x.bin", False, 12)]
    assert store.list("missing") == []
    assert store.list("a.txt") == []


def test_list_rejects_bad_path(store: LocalArtifactStore) -> None:
    with pytest.raises(InvalidParameterValue):
        store.list("../")


def test_symlink_escape(tmp_path: Path) -> None:
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    os.symlink(outside, root / "link")
    os.symlink(outside / "secret.txt", root / "file-link")
    (root / "ok.txt").write_text("ok")
    os.symlink(root / "ok.txt", root / "inner-link")
    store = LocalArtifactStore(root)
    for path in ["link/secret.txt", "file-link"]:
        with pytest.raises(InvalidParameterValue, match="outside"):
            store.iter_bytes(path)
    with pytest.raises(InvalidParameterValue, match="outside"):
        store.write_stream("link/new.txt", [b"x"])
    assert not (outside / "new.txt").exists()
    # Escaping links are hidden from listings; links that stay inside are served.
    assert [i.path for i in store.list()] == ["inner-link", "ok.txt"]
    assert b"".join(store.iter_bytes("inner-link")) == b"ok"
    # Deleting a link removes the link, never what it points to.
    store.delete("link")
    assert not (root / "link").exists() and (outside / "secret.txt").exists()


def test_download_file_and_folder(store: LocalArtifactStore, tmp_path: Path) -> None:
    for name in ["model/MLmodel", "model/data/w.bin", "model/data/sub/v.bin", "other.txt"]:
        store.write_stream(name, [name.encode()])
    dst = tmp_path / "dst"
    got = store.download("model", dst)
    assert got == (dst / "model").resolve()
    assert _all_files(got) == ["MLmodel", "data/sub/v.bin", "data/w.bin"]
    assert (got / "data" / "w.bin").read_bytes() == b"model/data/w.bin"
    one = store.download("model/data/w.bin", tmp_path / "one")
    assert one.read_bytes() == b"model/data/w.bin" and one.name == "w.bin"
    everything = store.download("", tmp_path / "all")
    assert _all_files(everything) == [
        "model/MLmodel",
        "model/data/sub/v.bin",
        "model/data/w.bin",
        "other.txt",
    ]
    with pytest.raises(ResourceDoesNotExist):
        store.download("missing", dst)


def test_download_never_writes_outside_destination(
    store: LocalArtifactStore, tmp_path: Path
) -> None:
    store.write_stream("d/f.txt", [b"x"])
    dst = tmp_path / "dst"
    dst.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    # A pre-existing symlink in the destination must not redirect the download.
    os.symlink(outside, dst / "d")
    with pytest.raises(InvalidParameterValue, match="outside"):
        store.download("d", dst)
    assert list(outside.iterdir()) == []


def test_upload_file_and_dir(store: LocalArtifactStore, tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "nested" / "deeper").mkdir(parents=True)
    (src / "a.txt").write_text("a")
    (src / "nested" / "b.txt").write_text("b")
    (src / "nested" / "deeper" / "c.txt").write_text("c")
    store.upload_dir(src, "up")
    assert _all_files(tmp_path / "root") == [
        "up/a.txt",
        "up/nested/b.txt",
        "up/nested/deeper/c.txt",
    ]
    store.upload_file(src / "a.txt", "single/a-copy.txt")
    assert b"".join(store.iter_bytes("single/a-copy.txt")) == b"a"
    with pytest.raises(InvalidParameterValue):
        store.upload_file(src / "missing", "x")
    with pytest.raises(InvalidParameterValue):
        store.upload_dir(src / "a.txt", "x")


def test_delete(store: LocalArtifactStore, tmp_path: Path) -> None:
    for name in ["a/1.txt", "a/2.txt", "b.txt"]:
        store.write_stream(name, [b"x"])
    store.delete("a/1.txt")
    assert not store.exists("a/1.txt") and store.exists("a/2.txt")
    store.delete("a")
    assert not store.exists("a")
    store.delete("not-there")
    store.delete()
    assert store.list() == []
    assert (tmp_path / "root").is_dir()
    with pytest.raises(InvalidParameterValue):
        store.delete("../x")
