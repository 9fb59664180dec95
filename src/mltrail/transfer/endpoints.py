"""From what the user typed to a source or a target: URIs, folders and files told apart."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from mltrail.config import Settings
from mltrail.errors import ConfigurationError
from mltrail.transfer.errors import NotSourceData
from mltrail.transfer.sources.base import Source
from mltrail.transfer.targets.base import Target
from mltrail.uris import parse_tracking_uri

_DB_SCHEMES = {
    "sqlite",
    "postgresql",
    "postgres",
    "postgresql+psycopg",
    "postgresql+psycopg2",
    "mysql",
    "mysql+pymysql",
    "mariadb",
    "mariadb+pymysql",
}
SQLITE_MAGIC = b"SQLite format 3\x00"


def _scheme(text: str) -> str:
    head, sep, _ = text.partition("://")
    return head.lower() if sep else ""


def _local(text: str) -> Path:
    if text.startswith("file:"):
        return Path(urlparse(text).path)
    return Path(text).expanduser()


def _is_sqlite_file(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(16) == SQLITE_MAGIC
    except OSError:
        return False


def open_mlflow_source(
    text: str,
    *,
    settings: Settings,
    mlflow_artifacts_root: str | None = None,
    workspace: str = "default",
) -> Source:
    """An MLflow database URI, an ``mlruns`` folder, a database file, or a server URL."""
    scheme = _scheme(text)
    if scheme in ("http", "https"):
        from mltrail.transfer.sources.mlflow_rest import MlflowRestSource

        return MlflowRestSource(text, settings=settings)
    if scheme in _DB_SCHEMES:
        from mltrail.transfer.sources.mlflow_sql import MlflowSqlSource

        return MlflowSqlSource(
            text,
            settings=settings,
            mlflow_artifacts_root=mlflow_artifacts_root,
            workspace=workspace,
        )
    if scheme and scheme != "file":
        raise NotSourceData(
            f"Unsupported SOURCE {text!r}: expected sqlite:///, postgresql://, mysql://, an "
            "mlruns folder or an http(s):// MLflow server"
        )
    path = _local(text)
    if path.is_file() and _is_sqlite_file(path):
        from mltrail.transfer.sources.mlflow_sql import MlflowSqlSource

        return MlflowSqlSource(
            f"sqlite:///{path.resolve()}",
            settings=settings,
            mlflow_artifacts_root=mlflow_artifacts_root,
            workspace=workspace,
        )
    if not path.exists():
        raise NotSourceData(f"SOURCE {text!r} does not exist")
    if not path.is_dir():
        raise NotSourceData(f"{text!r} is neither an MLflow database nor an mlruns folder")
    if (path / "mltrail.db").is_file():
        raise NotSourceData(f"{text!r} is an mltrail store; use `mltrail import mltrail`")
    from mltrail.transfer.sources.mlflow_files import MlflowFileSource

    return MlflowFileSource(
        path, settings=settings, mlflow_artifacts_root=mlflow_artifacts_root, workspace=workspace
    )


def open_mltrail_source(
    text: str, *, settings: Settings, artifacts_root: str | None = None
) -> Source:
    """A snapshot folder (``mltrail export``), or an mltrail store (a folder or database)."""
    scheme = _scheme(text)
    path = None if scheme and scheme != "file" else _local(text)
    if path is not None and (
        (path / "manifest.json").exists() or (path.is_dir() and any(path.glob("*.parquet")))
    ):
        from mltrail.transfer.sources.snapshot import SnapshotSource

        return SnapshotSource(path, settings=settings)
    if path is not None and not path.exists():
        raise NotSourceData(f"SNAPSHOT {text!r} does not exist")
    try:
        target = parse_tracking_uri(text)
    except ConfigurationError as exc:
        raise NotSourceData(str(exc.message)) from exc
    if target.kind != "sql":
        raise NotSourceData(
            f"{text!r} is a server: export a snapshot there (`mltrail --tracking-uri {text} "
            "export DEST`) and import that"
        )
    if path is not None and path.is_dir() and not (path / "mltrail.db").is_file():
        raise NotSourceData(
            f"{text!r} is neither an mltrail snapshot (no manifest.json) nor an mltrail store "
            "(no mltrail.db)"
        )
    from mltrail.transfer.sources.mltrail_sql import MltrailSqlSource

    return MltrailSqlSource(
        target.db_uri,
        settings=settings,
        store_root=target.default_artifact_root,
        artifacts_root=artifacts_root,
    )


def open_target(
    tracking_uri: str, *, settings: Settings, artifacts_destination: str | None = None
) -> Target:
    target = parse_tracking_uri(tracking_uri)
    if target.kind == "rest":
        if artifacts_destination:
            raise ConfigurationError(
                "--artifacts-destination is for database targets; a server stores the files "
                "where its own --artifacts-destination says"
            )
        from mltrail.transfer.targets.http import HttpTarget

        return HttpTarget(target.uri, settings=settings)
    from mltrail.transfer.targets.sql import SqlTarget

    db_file = None
    if target.db_uri.startswith("sqlite:///"):
        db_file = Path(target.db_uri[len("sqlite:///") :].partition("?")[0])
        db_file.parent.mkdir(parents=True, exist_ok=True)
    return SqlTarget(
        db_uri=target.db_uri,
        store_root=target.default_artifact_root,
        label=_label(target.uri),
        settings=settings,
        artifacts_destination=artifacts_destination,
        db_file=db_file,
    )


def _label(uri: str) -> str:
    parsed = urlparse(uri)
    if parsed.password:
        return uri.replace(f":{parsed.password}@", ":***@")
    return uri
