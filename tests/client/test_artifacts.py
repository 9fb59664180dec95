"""Artifacts of runs in a local folder store: log, list, download, text/dict/image/figure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

import mltrail
from mltrail.errors import InvalidParameterValue, ResourceDoesNotExist


def _tree(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): p.read_text()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_log_list_download_nested_folders(store_dir: Path, tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "sub" / "deeper").mkdir(parents=True)
    (src / "top.txt").write_text("top")
    (src / "sub" / "a.txt").write_text("a")
    (src / "sub" / "deeper" / "b.txt").write_text("b")
    single = tmp_path / "single.csv"
    single.write_text("x,y\n1,2\n")
    with mltrail.start_run() as run:
        mltrail.log_artifacts(str(src), artifact_path="data")
        mltrail.log_artifact(str(single))
        mltrail.log_artifact(single, artifact_path="more/csv")
    client = mltrail.TrackingClient()
    rid = run.info.run_id
    top = {(f.path, f.is_dir) for f in client.list_artifacts(rid)}
    assert top == {("data", True), ("more", True), ("single.csv", False)}
    data = client.list_artifacts(rid, "data")
    assert {(f.path, f.is_dir) for f in data} == {("data/sub", True), ("data/top.txt", False)}
    sizes = {f.path: f.file_size for f in client.list_artifacts(rid, "data/sub")}
    assert sizes == {"data/sub/deeper": None, "data/sub/a.txt": 1}

    dst = tmp_path / "out"
    local = Path(client.download_artifacts(rid, "data/sub", str(dst)))
    assert local == (dst / "data" / "sub").resolve()
    assert _tree(local) == {"a.txt": "a", "deeper/b.txt": "b"}

    everything = Path(client.download_artifacts(rid, ""))
    assert _tree(everything) == {
        "data/top.txt": "top",
        "data/sub/a.txt": "a",
        "data/sub/deeper/b.txt": "b",
        "single.csv": "x,y\n1,2\n",
        "more/csv/single.csv": "x,y\n1,2\n",
    }
    one = Path(client.download_artifacts(rid, "single.csv", tmp_path / "one"))
    assert one == (tmp_path / "one" / "single.csv").resolve()
    assert one.read_text() == "x,y\n1,2\n"
    nested = Path(client.download_artifacts(rid, "more/csv/single.csv", tmp_path / "two"))
    assert nested == (tmp_path / "two" / "more" / "csv" / "single.csv").resolve()


def test_artifacts_live_under_the_store_folder(store_dir: Path, tmp_path: Path) -> None:
    with mltrail.start_run() as run:
        mltrail.log_text("hi", "notes/hello.txt")
    files = list((store_dir / "artifacts").rglob("hello.txt"))
    assert len(files) == 1
    assert run.info.run_id in files[0].as_posix()


def test_log_text_and_dict(store_dir: Path, tmp_path: Path) -> None:
    payload = {"b": [1, 2, {"c": "d"}], "a": 1.5}
    with mltrail.start_run() as run:
        mltrail.log_text("héllo\nworld", "notes/readme.md")
        mltrail.log_dict(payload, "config/params.json")
        mltrail.log_dict(payload, "config/params.yaml")
    client = mltrail.TrackingClient()
    out = Path(client.download_artifacts(run.info.run_id, "", tmp_path / "dl"))
    assert (out / "notes" / "readme.md").read_text(encoding="utf-8") == "héllo\nworld"
    assert json.loads((out / "config" / "params.json").read_text()) == payload
    assert yaml.safe_load((out / "config" / "params.yaml").read_text()) == payload


def test_log_image_numpy(store_dir: Path, tmp_path: Path) -> None:
    import numpy as np
    from PIL import Image

    rgb = np.zeros((4, 6, 3), dtype=np.uint8)
    rgb[1, 2] = [255, 128, 0]
    gray = np.linspace(0.0, 1.0, 12).reshape(3, 4)
    with mltrail.start_run() as run:
        mltrail.log_image(rgb, "images/rgb.png")
        mltrail.log_image(gray, "images/gray.png")
        mltrail.log_image(rgb, "images/rgb.jpg")
    out = Path(mltrail.TrackingClient().download_artifacts(run.info.run_id, "images", tmp_path))
    assert out == (tmp_path / "images").resolve()
    with Image.open(out / "rgb.png") as image:
        back = np.asarray(image)
    assert back.shape == (4, 6, 3)
    assert (back == rgb).all()
    with Image.open(out / "gray.png") as image:
        back_gray = np.asarray(image)
    assert back_gray.shape == (3, 4)
    assert back_gray[0, 0] == 0 and back_gray[-1, -1] == 255
    with Image.open(out / "rgb.jpg") as image:
        assert image.format == "JPEG"


def test_log_image_pil(store_dir: Path, tmp_path: Path) -> None:
    from PIL import Image

    image = Image.new("RGB", (5, 3), color=(10, 20, 30))
    with mltrail.start_run() as run:
        mltrail.log_image(image, "pil.png")
    out = Path(mltrail.TrackingClient().download_artifacts(run.info.run_id, "pil.png", tmp_path))
    with Image.open(out) as image:
        assert image.getpixel((0, 0)) == (10, 20, 30)


def test_log_image_rejects_bad_input(store_dir: Path) -> None:
    import numpy as np

    with mltrail.start_run():
        with pytest.raises(InvalidParameterValue, match="shape"):
            mltrail.log_image(np.zeros((2, 2, 2)), "x.png")
        with pytest.raises(InvalidParameterValue, match=r"\[0, 1\]"):
            mltrail.log_image(np.full((2, 2), 3.0), "x.png")
        with pytest.raises(InvalidParameterValue, match=r"numpy\.ndarray or a PIL"):
            mltrail.log_image("not an image", "x.png")


def test_log_figure(store_dir: Path, tmp_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    with mltrail.start_run() as run:
        mltrail.log_figure(fig, "plots/line.png")
        mltrail.log_figure(fig, "plots/line.svg")
    plt.close(fig)
    out = Path(mltrail.TrackingClient().download_artifacts(run.info.run_id, "plots", tmp_path))
    assert (out / "line.png").read_bytes().startswith(b"\x89PNG")
    assert b"<svg" in (out / "line.svg").read_bytes()


@pytest.mark.parametrize("bad", ["../evil.txt", "/abs/evil.txt", "a/../../evil.txt", "a\\b.txt"])
def test_unsafe_artifact_paths_are_rejected(store_dir: Path, tmp_path: Path, bad: str) -> None:
    with mltrail.start_run():
        with pytest.raises(InvalidParameterValue):
            mltrail.log_text("x", bad)
        with pytest.raises(InvalidParameterValue):
            mltrail.log_artifact(__file__, artifact_path=bad)
    assert not (tmp_path / "evil.txt").exists()
    assert not (store_dir / "evil.txt").exists()


def test_missing_local_files_and_artifacts(store_dir: Path, tmp_path: Path) -> None:
    with mltrail.start_run() as run:
        with pytest.raises(InvalidParameterValue, match="not an existing file"):
            mltrail.log_artifact(tmp_path / "nope.txt")
        with pytest.raises(InvalidParameterValue, match="not an existing folder"):
            mltrail.log_artifacts(tmp_path / "nope")
    client = mltrail.TrackingClient()
    with pytest.raises(ResourceDoesNotExist):
        client.download_artifacts(run.info.run_id, "absent.txt", tmp_path / "dl")
    assert client.list_artifacts(run.info.run_id, "absent") == []


def test_log_dict_not_serializable(store_dir: Path) -> None:
    with mltrail.start_run(), pytest.raises(InvalidParameterValue, match="JSON"):
        mltrail.log_dict({"x": object()}, "d.json")
