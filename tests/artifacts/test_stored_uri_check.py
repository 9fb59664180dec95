"""check_stored_uri: which stored artifact locations and model sources a server accepts."""

from __future__ import annotations

from pathlib import Path

import pytest

from mltrail.artifacts.paths import check_stored_uri
from mltrail.errors import InvalidParameterValue


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "artifacts"
    folder.mkdir()
    (folder / "inside").mkdir()
    (folder / "escape").symlink_to("/etc")
    (folder / "loop").symlink_to(folder / "inside")
    return folder


def _roots(root: Path) -> tuple[str, ...]:
    return (root.as_uri(), "s3://team-bucket/root")


@pytest.mark.parametrize(
    "uri",
    [
        "mlflow-artifacts:/",
        "mlflow-artifacts:/3",
        "mlflow-artifacts:/3/abc/artifacts/model",
        "mltrail-artifacts:/3/x",
        "s3://team-bucket/root",
        "s3://team-bucket/root/",
        "s3://team-bucket/root/7/run/artifacts",
    ],
)
def test_proxied_and_remote_locations_inside_a_root_are_accepted(root: Path, uri: str) -> None:
    assert check_stored_uri(uri, allowed_roots=_roots(root)) == uri


def test_local_locations_inside_the_root_are_accepted_in_every_spelling(root: Path) -> None:
    for uri in (
        root.as_uri(),
        (root / "inside").as_uri(),
        str(root / "inside" / "deeper"),
        f"{root}/inside/./x",
        (root / "loop" / "x").as_uri(),  # a symlink that stays inside
        f"file://localhost{root}/inside",
    ):
        assert check_stored_uri(uri, allowed_roots=_roots(root)) == uri
    # The root given as a plain path accepts file:// URIs below it, and the other way round.
    assert check_stored_uri((root / "x").as_uri(), allowed_roots=[str(root)])
    assert check_stored_uri(str(root / "x"), allowed_roots=[root.as_uri()])


@pytest.mark.parametrize(
    "uri",
    [
        "file:///etc",
        "/etc",
        "/etc/passwd",
        "../x",
        "relative/folder",
        "mlflow-artifacts:/../x",
        "mlflow-artifacts:/%2e%2e/x",
        "mlflow-artifacts:/%252e%252e/x",
        "mlflow-artifacts:/a/..%2fb",
        "mlflow-artifacts:/x?y=1",
        "s3://other-bucket/x",
        "s3://team-bucket/rootx/y",
        "s3://team-bucket/root/../x",
        "s3://team-bucket/root/%2e%2e/x",
        "gs://team-bucket/root/x",
        "s3://team-bucket/root/x?versionId=1",
        "http://example.com/x",
        "file://evil-host/x",
        "",
        "   ",
    ],
)
def test_locations_outside_the_roots_are_refused(root: Path, uri: str) -> None:
    with pytest.raises(InvalidParameterValue):
        check_stored_uri(uri, allowed_roots=_roots(root))


def test_local_traversal_and_encoded_tricks_are_refused(root: Path) -> None:
    for uri in (
        f"{root}/../outside",
        f"{root.as_uri()}/../outside",
        f"{root}/%2e%2e/outside",
        f"{root.as_uri()}/%2e%2e/outside",
        f"{root.as_uri()}/%252e%252e/outside",
        f"{root}/inside\\..\\..\\x",
        f"{root}x/sibling",  # a prefix on a non-segment boundary
        (root / "escape").as_uri(),
        str(root / "escape" / "passwd"),
        str(root.parent),
    ):
        with pytest.raises(InvalidParameterValue):
            check_stored_uri(uri, allowed_roots=_roots(root))


def test_the_message_names_the_roots_and_the_proxied_form(root: Path) -> None:
    with pytest.raises(InvalidParameterValue) as caught:
        check_stored_uri("file:///etc", allowed_roots=["s3://team-bucket/root"], what="source")
    message = caught.value.message
    assert "Invalid source 'file:///etc'" in message
    assert "mlflow-artifacts:/<path>" in message and "'s3://team-bucket/root'" in message
    assert caught.value.status == 400


def test_without_roots_only_proxied_locations_pass() -> None:
    assert check_stored_uri("mlflow-artifacts:/1", allowed_roots=())
    with pytest.raises(InvalidParameterValue):
        check_stored_uri("/tmp/x", allowed_roots=())
