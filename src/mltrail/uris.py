"""Parsing a tracking URI (or a server's backend store URI) into a backend target.

Both the client (its tracking URI) and the server (``--backend-store-uri``) parse these
forms, so this module sits beside ``errors`` and ``config`` and imports nothing else of
mltrail. Which URI is in effect is the client's business (:mod:`mltrail.client.uris`).

Accepted forms and where artifacts go (the default artifact root of new experiments,
always recorded as an absolute ``file://`` URI):

- a folder path (``./runs``, ``/data/mltrail``) or a ``file:`` URI of a folder: the
  database is ``<folder>/mltrail.db`` (SQLite) and artifacts go to ``<folder>/artifacts``.
- ``sqlite:///path/to/x.db``: artifacts go to the ``artifacts`` folder *beside the
  database file* (``/path/to/artifacts``). So ``sqlite:///runs/mltrail.db`` and the
  folder store ``runs`` are the same store.
- ``postgresql://``, ``postgresql+psycopg://``, ``mysql://``, ``mysql+pymysql://``,
  ``mariadb://``, ``mariadb+pymysql://``: artifacts go to ``./mltrail/artifacts`` under
  the current working directory (made absolute when the URI is resolved).
- ``http://`` and ``https://``: a tracking server; artifacts are whatever the server says.

Relative paths are made absolute when resolved, so changing the working directory later
does not split one store into two.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlparse

from mltrail.config import DEFAULT_LOCAL_DIR
from mltrail.errors import ConfigurationError

DB_FILE_NAME = "mltrail.db"
ARTIFACTS_DIR_NAME = "artifacts"

_SQL_SCHEMES = frozenset(
    {
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
)
_REST_SCHEMES = frozenset({"http", "https"})


@dataclass(frozen=True)
class TrackingTarget:
    """A resolved tracking URI: which backend, and what it needs to open."""

    uri: str
    kind: Literal["sql", "rest"]
    db_uri: str = ""
    default_artifact_root: str = ""


def parse_tracking_uri(uri: str) -> TrackingTarget:
    """Turn a tracking URI into a :class:`TrackingTarget`; bad URIs raise ConfigurationError."""
    text = uri.strip()
    if not text:
        raise ConfigurationError("The tracking URI is empty")
    scheme = _scheme_of(text)
    if scheme in _REST_SCHEMES:
        return _rest_target(text)
    if scheme in _SQL_SCHEMES:
        return _sql_target(text, scheme)
    if scheme == "file":
        return _folder_target(_file_uri_to_path(text))
    if scheme == "":
        return _folder_target(Path(text).expanduser())
    raise ConfigurationError(
        f"Unsupported tracking URI {uri!r}: expected a folder path, file:, sqlite:///, "
        "postgresql://, mysql:// or http(s)://"
    )


def default_sql_artifact_root() -> str:
    """Artifact root used with a server database (PostgreSQL, MySQL): ``./mltrail/artifacts``."""
    return (Path.cwd() / DEFAULT_LOCAL_DIR / ARTIFACTS_DIR_NAME).resolve().as_uri()


def _scheme_of(text: str) -> str:
    # A Windows drive letter ("C:\\x") is a path, not a one-letter scheme.
    if len(text) >= 2 and text[1] == ":" and text[0].isalpha() and os.name == "nt":
        return ""
    head, sep, _ = text.partition(":")
    if not sep or "/" in head or "\\" in head:
        return ""
    return head.lower()


def _rest_target(text: str) -> TrackingTarget:
    parsed = urlparse(text)
    if not parsed.hostname:
        raise ConfigurationError(f"Tracking URI {text!r} has no host name")
    return TrackingTarget(uri=text.rstrip("/"), kind="rest")


def _sql_target(text: str, scheme: str) -> TrackingTarget:
    if scheme != "sqlite":
        return TrackingTarget(
            uri=text, kind="sql", db_uri=text, default_artifact_root=default_sql_artifact_root()
        )
    prefix = "sqlite:///"
    if not text.startswith(prefix):
        raise ConfigurationError(
            f"Unsupported SQLite URI {text!r}: expected sqlite:///relative.db or sqlite:////abs.db"
        )
    raw_path, _, query = text[len(prefix) :].partition("?")
    if raw_path in ("", ":memory:"):
        raise ConfigurationError(
            "An in-memory SQLite database cannot be a tracking store (it would vanish with "
            "the connection); use a file, e.g. sqlite:///mltrail.db"
        )
    db_path = Path(unquote(raw_path)).expanduser().resolve()
    db_uri = f"sqlite:///{db_path.as_posix()}" + (f"?{query}" if query else "")
    root = (db_path.parent / ARTIFACTS_DIR_NAME).as_uri()
    return TrackingTarget(uri=db_uri, kind="sql", db_uri=db_uri, default_artifact_root=root)


def _folder_target(folder: Path) -> TrackingTarget:
    folder = folder.resolve()
    if folder.exists() and not folder.is_dir():
        raise ConfigurationError(
            f"Tracking URI {str(folder)!r} is a file, not a folder; for a database file use "
            f"sqlite:///{folder.as_posix()}"
        )
    db_uri = f"sqlite:///{(folder / DB_FILE_NAME).as_posix()}"
    root = (folder / ARTIFACTS_DIR_NAME).as_uri()
    return TrackingTarget(uri=str(folder), kind="sql", db_uri=db_uri, default_artifact_root=root)


def _file_uri_to_path(text: str) -> Path:
    parsed = urlparse(text)
    if parsed.netloc not in ("", "localhost"):
        raise ConfigurationError(f"file: URI {text!r} names a remote host; use a local path")
    path = unquote(parsed.path)
    if not path:
        raise ConfigurationError(f"file: URI {text!r} has no path")
    return Path(path)
