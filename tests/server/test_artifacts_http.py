"""Proxied artifacts through a real server: HttpArtifactRepository and the raw routes."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from mltrail.client.http_artifacts import HttpArtifactRepository
from mltrail.config import Settings
from mltrail.errors import InvalidParameterValue, ResourceDoesNotExist

from .conftest import AppServer, LiveServer


def _repo(server: LiveServer | AppServer, uri: str) -> HttpArtifactRepository:
    return HttpArtifactRepository(
        uri, tracking_uri=server.url, settings=Settings(http_max_retries=1)
    )


def test_upload_list_download_delete(app_live_server: AppServer, tmp_path: Path) -> None:
    live_server = app_live_server
    api = live_server.backend()
    run = api.create_run(api.create_experiment("arts"))
    repo = _repo(live_server, run.info.artifact_uri)

    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("alpha")
    (src / "sub" / "b.bin").write_bytes(os.urandom(3 * 1024 * 1024 + 7))
    repo.upload_dir(src, "model")
    single = tmp_path / "notes.md"
    single.write_text("# hi")
    repo.upload_file(single, "notes.md")

    top = repo.list("")
    assert [(f.path, f.is_dir) for f in top] == [("model", True), ("notes.md", False)]
    assert [f.path for f in repo.list("model")] == ["model/sub", "model/a.txt"]
    assert repo.size("model/sub/b.bin") == 3 * 1024 * 1024 + 7
    assert repo.exists("model/a.txt") and not repo.exists("model/zzz")
    assert repo.is_dir("model/sub")

    out = repo.download("model", tmp_path / "out")
    assert (out / "a.txt").read_text() == "alpha"
    assert (out / "sub" / "b.bin").read_bytes() == (src / "sub" / "b.bin").read_bytes()
    assert b"".join(repo.iter_bytes("model/a.txt", start=1, end=3)) == b"lp"

    # Bytes live under the folder store's artifacts dir, at the path the URI names.
    rel = run.info.artifact_uri.removeprefix("mlflow-artifacts:/")
    stored = live_server.tmp_path / "store" / "artifacts" / rel / "model" / "a.txt"
    assert stored.read_text() == "alpha"

    repo.delete("model")
    assert [f.path for f in repo.list("")] == ["notes.md"]
    with pytest.raises(ResourceDoesNotExist):
        repo.delete("model")


def test_raw_routes_range_and_disposition(live_server: LiveServer) -> None:
    base = f"{live_server.url}/api/v1/artifacts"
    data = bytes(range(256)) * 10
    put = httpx.put(f"{base}/1/x/files/data.bin", content=iter([data[:1000], data[1000:]]))
    assert put.status_code == 200, put.text
    assert put.json()["bytes"] == len(data)

    whole = httpx.get(f"{base}/1/x/files/data.bin")
    assert whole.content == data
    assert whole.headers["accept-ranges"] == "bytes"
    assert 'filename="data.bin"' in whole.headers["content-disposition"]

    part = httpx.get(f"{base}/1/x/files/data.bin", headers={"Range": "bytes=10-19"})
    assert part.status_code == 206
    assert part.content == data[10:20]
    assert part.headers["content-range"] == f"bytes 10-19/{len(data)}"
    tail = httpx.get(f"{base}/1/x/files/data.bin", headers={"Range": "bytes=-5"})
    assert tail.content == data[-5:]
    bad = httpx.get(f"{base}/1/x/files/data.bin", headers={"Range": "bytes=99999-"})
    assert bad.status_code == 416

    listing = httpx.get(f"{base}/1/x/files", params={"list": "1"}).json()
    assert listing["files"] == [
        {"path": "1/x/files/data.bin", "is_dir": False, "file_size": len(data)}
    ]
    listing2 = httpx.get(f"{live_server.url}/api/v1/artifact-list", params={"path": "1/x"}).json()
    assert listing2["files"][0]["path"] == "1/x/files"

    missing = httpx.get(f"{base}/1/x/files/nope.bin")
    assert missing.status_code == 404
    assert missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


@pytest.mark.parametrize("path", ["..%2F..%2Fetc%2Fpasswd", "a/%2e%2e/%2e%2e/b", "a/..%5Cb"])
def test_path_traversal_is_refused(live_server: LiveServer, path: str) -> None:
    url = f"{live_server.url}/api/v1/artifacts/{path}"
    put = httpx.put(url, content=b"x")
    assert put.status_code == 400, put.text
    assert put.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert httpx.get(url).status_code in (400, 404)


def test_client_refuses_hostile_listing_names(app_live_server: AppServer) -> None:
    live_server = app_live_server
    with pytest.raises(InvalidParameterValue):
        _repo(live_server, "mlflow-artifacts:/../x").list("")


def test_no_serve_artifacts(server_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "elsewhere"
    server = server_factory(args=["--no-serve-artifacts", "--default-artifact-root", str(root)])
    api = server.backend()
    exp = api.get_experiment(api.create_experiment("direct"))
    assert exp.artifact_location == f"{root}/{exp.experiment_id}"
    answer = httpx.get(f"{server.url}/api/v1/artifacts/1/a.txt")
    assert answer.status_code == 404
    assert "--no-serve-artifacts" in answer.json()["message"]
