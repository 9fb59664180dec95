"""Proxied artifacts through the real mlflow client and raw HTTP."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlparse

import httpx
import pytest

pytestmark = pytest.mark.mlflow


def test_log_list_download_artifacts_nested(run_mlflow, server):
    result = run_mlflow(
        """
        import os, tempfile
        src = tempfile.mkdtemp()
        os.makedirs(os.path.join(src, "sub", "deeper"))
        for rel, text in [("a.txt", "A"), ("sub/b.json", '{"b": 1}'), ("sub/deeper/c.csv", "x,y")]:
            with open(os.path.join(src, rel), "w") as fh:
                fh.write(text)
        single = os.path.join(tempfile.mkdtemp(), "notes.txt")
        with open(single, "w") as fh:
            fh.write("hello")
        with mlflow.start_run() as run:
            mlflow.log_artifact(single)
            mlflow.log_artifact(single, artifact_path="docs")
            mlflow.log_artifacts(src, artifact_path="tree")
            mlflow.log_text("inline", "texts/t.txt")
            mlflow.log_dict({"k": [1, 2]}, "cfg.json")
            rid = run.info.run_id
        client = MlflowClient()
        root = client.list_artifacts(rid)
        tree = client.list_artifacts(rid, "tree")
        sub = client.list_artifacts(rid, "tree/sub")
        out = tempfile.mkdtemp()
        whole = client.download_artifacts(rid, "tree", out)
        files = sorted(
            os.path.relpath(os.path.join(d, f), whole) for d, _, fs in os.walk(whole) for f in fs
        )
        c_text = open(os.path.join(whole, "sub", "deeper", "c.csv")).read()
        one = mlflow.artifacts.download_artifacts(run_id=rid, artifact_path="docs/notes.txt")
        loaded = mlflow.artifacts.load_dict(run.info.artifact_uri + "/cfg.json")
        emit({
            "rid": rid, "exp": run.info.experiment_id,
            "root": [[f.path, f.is_dir, f.file_size] for f in root],
            "tree": [[f.path, f.is_dir] for f in tree],
            "sub": [[f.path, f.is_dir, f.file_size] for f in sub],
            "files": files, "c_text": c_text, "one": open(one).read(), "loaded": loaded,
        })
        """
    )
    assert sorted(result["root"]) == sorted(
        [
            ["cfg.json", False, 29],
            ["docs", True, None],
            ["notes.txt", False, 5],
            ["texts", True, None],
            ["tree", True, None],
        ]
    )
    assert sorted(result["tree"]) == [["tree/a.txt", False], ["tree/sub", True]]
    assert sorted(result["sub"]) == [["tree/sub/b.json", False, 8], ["tree/sub/deeper", True, None]]
    assert result["files"] == ["a.txt", "sub/b.json", "sub/deeper/c.csv"]
    assert result["c_text"] == "x,y"
    assert result["one"] == "hello"
    assert result["loaded"] == {"k": [1, 2]}
    # The bytes really live under the server's artifact destination.
    stored = server.artifacts_dir / result["exp"] / result["rid"] / "artifacts" / "tree" / "a.txt"
    assert stored.read_text() == "A"

    # The tracking listing uses run-relative paths, the proxy listing basenames.
    base = f"{server.url}/api/2.0"
    listing = httpx.get(
        f"{base}/mlflow/artifacts/list", params={"run_id": result["rid"], "path": "tree/sub"}
    ).json()
    assert listing["root_uri"].startswith("mlflow-artifacts:/")
    assert sorted(f["path"] for f in listing["files"]) == ["tree/sub/b.json", "tree/sub/deeper"]
    proxy = httpx.get(
        f"{base}/mlflow-artifacts/artifacts",
        params={"path": f"{result['exp']}/{result['rid']}/artifacts/tree/sub"},
    ).json()
    assert sorted(proxy["files"], key=lambda f: f["path"]) == [
        {"path": "b.json", "is_dir": False, "file_size": 8},
        {"path": "deeper", "is_dir": True},
    ]


def test_raw_proxy_put_get_delete_mime_and_range(server):
    base = f"{server.url}/api/2.0/mlflow-artifacts/artifacts"
    payloads = {
        "x/readme.txt": (b"text body", "text/plain"),
        "x/model.pkl": (b"\x80\x04binary", "application/octet-stream"),
        "x/MLmodel": (b"flavors: {}\n", "text/plain"),
        "x/plot.png": (b"\x89PNG fake", "image/png"),
        "x/report.pdf": (b"%PDF-1.4", "application/pdf"),
    }
    for path, (body, _) in payloads.items():
        answer = httpx.put(f"{base}/{path}", content=body)
        assert answer.status_code == 200, answer.text
    for path, (body, mime) in payloads.items():
        answer = httpx.get(f"{base}/{path}")
        assert answer.status_code == 200
        assert answer.content == body
        assert answer.headers["content-type"].split(";")[0] == mime
        assert answer.headers["x-content-type-options"] == "nosniff"
        name = path.rsplit("/", 1)[1]
        assert answer.headers["content-disposition"].startswith("attachment")
        assert f'filename="{name}"' in answer.headers["content-disposition"]
    # Overwrite is allowed.
    assert httpx.put(f"{base}/x/readme.txt", content=b"0123456789").status_code == 200
    part = httpx.get(f"{base}/x/readme.txt", headers={"Range": "bytes=2-5"})
    assert part.status_code == 206
    assert part.content == b"2345"
    assert part.headers["content-range"] == "bytes 2-5/10"
    assert httpx.delete(f"{base}/x/readme.txt").json() == {}
    missing = httpx.get(f"{base}/x/readme.txt")
    assert missing.status_code == 404
    assert missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert httpx.get(base, params={"path": "nothing/here"}).json() == {}
    assert httpx.get(base, params={"path": "x/model.pkl"}).json() == {}


def test_large_upload_streams_to_disk(server):
    base = f"{server.url}/api/2.0/mlflow-artifacts/artifacts"
    chunk = bytes(range(256)) * 4096  # 1 MiB

    def body():
        for _ in range(24):
            yield chunk

    answer = httpx.put(f"{base}/big/blob.bin", content=body(), timeout=120)
    assert answer.status_code == 200, answer.text
    stored = server.artifacts_dir / "big" / "blob.bin"
    assert stored.stat().st_size == 24 * len(chunk)
    back = httpx.get(f"{base}/big/blob.bin", headers={"Range": "bytes=-3"})
    assert back.content == chunk[-3:]


@pytest.mark.parametrize("path", ["../x", "a/../../x", "%2e%2e/x", "..%2fx"])
def test_path_traversal_is_rejected(server, path):
    parsed = urlparse(server.url)
    # http.client sends the path verbatim (no client-side normalisation of '..').
    for method, target in [
        ("PUT", f"/api/2.0/mlflow-artifacts/artifacts/{path}"),
        ("GET", f"/api/2.0/mlflow-artifacts/artifacts/{path}"),
        ("GET", f"/api/2.0/mlflow-artifacts/artifacts?path={path}"),
    ]:
        conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
        conn.request(method, target, body=b"evil" if method == "PUT" else None)
        answer = conn.getresponse()
        body = json.loads(answer.read())
        conn.close()
        assert answer.status == 400, (method, target, body)
        assert body["error_code"] == "INVALID_PARAMETER_VALUE"
        assert "Invalid path" in body["message"]
    assert not (server.artifacts_dir.parent / "x").exists()


def test_run_artifact_listing_rejects_traversal(run_mlflow, server):
    rid = run_mlflow("emit(MlflowClient().create_run('0').info.run_id)")
    answer = httpx.get(
        f"{server.url}/api/2.0/mlflow/artifacts/list", params={"run_id": rid, "path": "../x"}
    )
    assert answer.status_code == 400
    assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_proxy_disabled_answers_503(server_without_proxy):
    server = server_without_proxy
    base = f"{server.url}/api/2.0/mlflow-artifacts/artifacts"
    for answer in (
        httpx.put(f"{base}/a.txt", content=b"x"),
        httpx.get(f"{base}/a.txt"),
        httpx.get(base, params={"path": ""}),
    ):
        assert answer.status_code == 503
        assert answer.json()["error_code"] == "TEMPORARILY_UNAVAILABLE"
    info = httpx.get(f"{server.url}/api/3.0/mlflow/server-info").json()
    assert info["artifact_serving_enabled"] is False


def test_artifact_uri_listing_and_download_through_the_proxy(run_mlflow):
    result = run_mlflow(
        """
        import os, tempfile
        src = tempfile.mkdtemp()
        os.makedirs(os.path.join(src, "a", "b"))
        with open(os.path.join(src, "a", "b", "deep.txt"), "w") as fh:
            fh.write("deep")
        with open(os.path.join(src, "top.txt"), "w") as fh:
            fh.write("top")
        with mlflow.start_run() as run:
            mlflow.log_artifacts(src, artifact_path="d")
        uri = run.info.artifact_uri
        listed = mlflow.artifacts.list_artifacts(artifact_uri=uri + "/d")
        nested = mlflow.artifacts.list_artifacts(artifact_uri=uri + "/d/a")
        out = mlflow.artifacts.download_artifacts(artifact_uri=uri + "/d", dst_path=tempfile.mkdtemp())
        files = sorted(
            os.path.relpath(os.path.join(d, f), out) for d, _, fs in os.walk(out) for f in fs
        )
        emit({
            "uri": uri,
            "listed": sorted([f.path, f.is_dir, f.file_size] for f in listed),
            "nested": [[f.path, f.is_dir] for f in nested],
            "files": files,
            "deep": open(os.path.join(out, "a", "b", "deep.txt")).read(),
        })
        """
    )
    assert result["uri"].startswith("mlflow-artifacts:/")
    assert result["listed"] == [["d/a", True, None], ["d/top.txt", False, 3]]
    # The client lists relative to the parent of the URI it is given.
    assert result["nested"] == [["a/b", True]]
    assert result["files"] == ["a/b/deep.txt", "top.txt"]
    assert result["deep"] == "deep"
