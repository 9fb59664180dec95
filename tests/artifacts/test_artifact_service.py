from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from mltrail.artifacts import open_artifact_store
from mltrail.artifacts.base import ArtifactStore
from mltrail.artifacts.content_types import guess_content_type
from mltrail.entities import FileInfo
from mltrail.errors import InvalidParameterValue, ResourceDoesNotExist
from mltrail.service.artifacts import ArtifactService


@pytest.fixture(params=["local", "memory"])
def service(request: pytest.FixtureRequest, tmp_path: Path) -> ArtifactService:
    uri = str(tmp_path / "art") if request.param == "local" else f"memory://svc-{uuid.uuid4().hex}"
    store: ArtifactStore = open_artifact_store(uri)
    return ArtifactService(destination=store)


def test_put_open_list_delete(service: ArtifactService) -> None:
    assert service.put("1/run/artifacts/metrics.json", iter([b'{"a":', b" 1}"])) == 8
    assert service.put("1/run/artifacts/plot.png", [b"\x89PNG"]) == 4
    chunks, size, ctype = service.open("1/run/artifacts/metrics.json")
    assert (b"".join(chunks), size, ctype) == (b'{"a": 1}', 8, "application/json")
    chunks, size, _ = service.open("1/run/artifacts/metrics.json", 2, 5)
    assert (b"".join(chunks), size) == (b'a":', 8)
    assert service.list("1/run/artifacts") == [
        FileInfo("1/run/artifacts/metrics.json", False, 8),
        FileInfo("1/run/artifacts/plot.png", False, 4),
    ]
    assert service.list("1") == [FileInfo("1/run", True, None)]
    assert service.list("1/run/artifacts/plot.png") == []
    assert service.list("nowhere") == []
    service.delete("1/run/artifacts/plot.png")
    with pytest.raises(ResourceDoesNotExist):
        service.open("1/run/artifacts/plot.png")
    with pytest.raises(ResourceDoesNotExist):
        service.delete("1/run/artifacts/plot.png")


def test_rejects_bad_paths(service: ArtifactService) -> None:
    for bad in ["../etc/passwd", "%2e%2e/x", "/abs", "a\\b", "a%00b", "%252e%252e/x"]:
        with pytest.raises(InvalidParameterValue, match="Invalid path"):
            service.put(bad, [b"x"])
        with pytest.raises(InvalidParameterValue, match="Invalid path"):
            service.open(bad)
        with pytest.raises(InvalidParameterValue, match="Invalid path"):
            service.list(bad)
        with pytest.raises(InvalidParameterValue, match="Invalid path"):
            service.delete(bad)
    for root in ["", "/", ".", "./"]:
        with pytest.raises(InvalidParameterValue):
            service.delete(root)
        with pytest.raises(InvalidParameterValue):
            service.put(root, [b"x"])


def test_open_folder_is_an_error(service: ArtifactService) -> None:
    service.put("d/f.txt", [b"x"])
    with pytest.raises(InvalidParameterValue, match="folder"):
        service.open("d")


def test_failed_upload_is_invisible(service: ArtifactService) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"abc"
        raise ConnectionError("client went away")

    with pytest.raises(ConnectionError):
        service.put("x/y.bin", chunks())
    with pytest.raises(ResourceDoesNotExist):
        service.open("x/y.bin")
    assert [i for i in service.list("x") if not i.is_dir] == []


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("notes.txt", "text/plain"),
        ("train.LOG", "text/plain"),
        ("README.md", "text/plain"),
        ("a/b/script.py", "text/plain"),
        ("conf.yaml", "text/plain"),
        ("conf.yml", "text/plain"),
        ("model/MLmodel", "text/plain"),
        ("MLproject", "text/plain"),
        ("metrics.json", "application/json"),
        ("data.csv", "text/csv"),
        ("plot.png", "image/png"),
        ("photo.JPG", "image/jpeg"),
        ("photo.jpeg", "image/jpeg"),
        ("anim.gif", "image/gif"),
        ("report.pdf", "application/pdf"),
        ("page.html", "text/plain"),
        ("page.HTM", "text/plain"),
        ("icon.svg", "text/plain"),
        ("model.pkl", "application/octet-stream"),
        ("model.skops", "application/octet-stream"),
        ("weights", "application/octet-stream"),
        ("archive.tar.gz", "application/octet-stream"),
        (".bashrc", "application/octet-stream"),
        ("", "application/octet-stream"),
    ],
)
def test_guess_content_type(path: str, expected: str) -> None:
    assert guess_content_type(path) == expected
