"""``mltrail db``: the tracking database's schema."""

from __future__ import annotations

import click


@click.group()
def db() -> None:
    """Create or upgrade a tracking database schema."""


@db.command("upgrade")
@click.argument("uri")
def upgrade(uri: str) -> None:
    """Create or migrate the database at URI to this mltrail's newest schema.

    URI is a database URI (sqlite:///mltrail.db, postgresql://user@host/db,
    mysql://user@host/db) or a folder store (its mltrail.db is used). Safe to run on an
    up-to-date database, and while other processes start on the same database. A
    database written by a newer mltrail is refused and left untouched.
    """
    from mltrail.errors import ConfigurationError
    from mltrail.uris import parse_tracking_uri

    target = parse_tracking_uri(uri)
    if target.kind != "sql":
        raise ConfigurationError(
            f"{uri!r} is a tracking server, not a database; run `mltrail db upgrade` with the "
            "server's --backend-store-uri"
        )
    if target.db_uri.startswith("sqlite:///"):
        _ensure_sqlite_folder(target.db_uri, uri=uri)

    from mltrail.store.sql.migrate import upgrade as upgrade_schema

    revision = upgrade_schema(target.db_uri)
    click.echo(f"Database {_redacted(target.db_uri)} is at schema revision {revision}")


def _ensure_sqlite_folder(db_uri: str, *, uri: str) -> None:
    from pathlib import Path

    from mltrail.errors import ConfigurationError

    path = Path(db_uri[len("sqlite:///") :].partition("?")[0])
    if path.is_dir():
        raise ConfigurationError(f"{uri!r} points at a folder, not a database file")
    if not path.parent.is_dir():
        # A typo in the path should not silently create a tree of folders: only the
        # folder-store form (a folder URI) creates its own folder.
        if uri.startswith("sqlite:"):
            raise ConfigurationError(f"The folder {str(path.parent)!r} of {uri!r} does not exist")
        path.parent.mkdir(parents=True, exist_ok=True)


def _redacted(db_uri: str) -> str:
    """The URI without its password, for printing."""
    scheme, sep, rest = db_uri.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in credentials:
        return db_uri
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"
