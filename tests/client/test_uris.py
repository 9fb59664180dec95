from __future__ import annotations

from pathlib import Path

import pytest

from mltrail.client.uris import resolve_tracking_uri
from mltrail.errors import ConfigurationError
from mltrail.uris import parse_tracking_uri


def test_explicit_uri_wins_over_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLTRAIL_TRACKING_URI", "sqlite:///from-env.db")
    assert resolve_tracking_uri("http://explicit:5000") == "http://explicit:5000"
    assert resolve_tracking_uri(None) == "sqlite:///from-env.db"


def test_default_is_mltrail_folder_in_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLTRAIL_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    uri = resolve_tracking_uri(None)
    target = parse_tracking_uri(uri)
    assert Path(uri) == tmp_path / "mltrail"
    assert (
        target.db_uri == f"sqlite:///{(tmp_path / 'mltrail' / 'mltrail.db').resolve().as_posix()}"
    )
    assert target.default_artifact_root == (tmp_path / "mltrail" / "artifacts").resolve().as_uri()


def test_folder_and_file_uri_are_the_same_store(tmp_path: Path) -> None:
    by_path = parse_tracking_uri(str(tmp_path / "runs"))
    by_uri = parse_tracking_uri((tmp_path / "runs").as_uri())
    assert by_path == by_uri
    assert by_path.kind == "sql"


def test_relative_folder_is_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    target = parse_tracking_uri("runs")
    assert target.uri == str((tmp_path / "runs").resolve())


def test_sqlite_artifacts_go_beside_the_database(tmp_path: Path) -> None:
    target = parse_tracking_uri(f"sqlite:///{tmp_path}/x/track.db")
    assert target.db_uri == f"sqlite:///{tmp_path.resolve().as_posix()}/x/track.db"
    assert target.default_artifact_root == (tmp_path / "x" / "artifacts").resolve().as_uri()
    # The folder store "x" with its default db name is the same store as sqlite:///x/mltrail.db.
    folder = parse_tracking_uri(str(tmp_path / "x"))
    same = parse_tracking_uri(f"sqlite:///{tmp_path}/x/mltrail.db")
    assert (folder.db_uri, folder.default_artifact_root) == (
        same.db_uri,
        same.default_artifact_root,
    )


def test_relative_sqlite_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    target = parse_tracking_uri("sqlite:///rel.db")
    assert target.db_uri == f"sqlite:///{(tmp_path / 'rel.db').resolve().as_posix()}"


@pytest.mark.parametrize(
    "uri",
    [
        "postgresql://u@db/x",
        "postgresql+psycopg://u@db/x",
        "mysql://root@db/x",
        "mysql+pymysql://root@db/x",
    ],
)
def test_server_databases_keep_artifacts_in_cwd(
    uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    target = parse_tracking_uri(uri)
    assert target.kind == "sql"
    assert target.db_uri == uri
    assert target.default_artifact_root == (tmp_path / "mltrail" / "artifacts").resolve().as_uri()


def test_http_is_rest() -> None:
    target = parse_tracking_uri("https://tracking.example:5000/")
    assert target.kind == "rest"
    assert target.uri == "https://tracking.example:5000"


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("", "empty"),
        ("s3://bucket/x", "Unsupported tracking URI"),
        ("sqlite://", "sqlite:///"),
        ("sqlite:///:memory:", "in-memory"),
        ("http://", "no host"),
        ("file://otherhost/x", "remote host"),
    ],
)
def test_bad_uris_raise_configuration_error(uri: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        parse_tracking_uri(uri)


def test_folder_uri_that_is_a_file(tmp_path: Path) -> None:
    a_file = tmp_path / "x.db"
    a_file.write_text("")
    with pytest.raises(ConfigurationError, match="is a file"):
        parse_tracking_uri(str(a_file))
