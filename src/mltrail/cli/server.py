"""``mltrail server`` (a tracking server for a team) and ``mltrail ui`` (local, loopback only).

Every option also comes from its ``MLTRAIL_*`` variable; an option given on the command
line wins. Heavy modules are imported inside the commands so that help stays fast.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def _csv(value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _common_options(func: F) -> F:
    options = [
        click.option("--port", type=int, default=None, help="Port to listen on. [default: 5000]"),
        click.option(
            "--backend-store-uri",
            metavar="URI",
            default=None,
            help="Where runs are stored: a folder, file:, sqlite:///x.db, postgresql://, "
            "mysql://. [default: the folder ./mltrail]",
        ),
        click.option(
            "--static-prefix",
            default=None,
            help="Serve every route under this path prefix (starts with '/', no trailing '/').",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _run(*, on_listening: Callable[[str], None] | None = None, **overrides: Any) -> None:
    from mltrail.config import load_settings
    from mltrail.server.runner import serve

    serve(load_settings(**overrides), on_listening=on_listening)


@click.command("server")
@_common_options
@click.option(
    "--default-artifact-root",
    metavar="URI",
    default=None,
    help="Artifact root of new experiments when artifacts are not served "
    "(a folder or an fsspec URL such as s3://bucket/path).",
)
@click.option(
    "--artifacts-destination",
    metavar="URI",
    default=None,
    help="Where served artifacts are stored. [default: ./mltrail/artifacts for the folder "
    "store, else ./mlartifacts]",
)
@click.option(
    "--serve-artifacts/--no-serve-artifacts",
    default=None,
    help="Proxy artifact uploads and downloads through the server. [default: on]",
)
@click.option("--host", default=None, help="Interface to listen on. [default: 127.0.0.1]")
@click.option("--workers", type=int, default=None, help="Worker processes. [default: 1]")
@click.option(
    "--ssl-certfile", type=click.Path(dir_okay=False), default=None, help="TLS certificate (PEM)."
)
@click.option(
    "--ssl-keyfile", type=click.Path(dir_okay=False), default=None, help="TLS private key (PEM)."
)
@click.option(
    "--allowed-hosts",
    default=None,
    help="Comma-separated Host header values to accept (e.g. tracking.example.com,*.corp). "
    "[default: the names of the bound address (loopback names on loopback); on 0.0.0.0 any "
    "name with authentication, this machine's names and IP literals without]",
)
@click.option(
    "--cors-allowed-origins",
    default=None,
    help="Comma-separated origins allowed to call the API from a browser (no wildcard).",
)
@click.option(
    "--forwarded-allow-ips",
    default=None,
    metavar="ADDRESSES",
    help="Comma-separated addresses (or networks) of reverse proxies whose X-Forwarded-For "
    "and X-Forwarded-Proto headers are trusted. [default: 127.0.0.1]",
)
@click.option(
    "--no-auth",
    "no_auth",
    is_flag=True,
    default=None,
    help="Serve without authentication (anyone who can connect can do anything).",
)
@click.option(
    "--default-permission",
    type=click.Choice(["NONE", "READ", "EDIT", "MANAGE"], case_sensitive=False),
    default=None,
    help="What users may do with experiments and models they were not granted. [default: NONE]",
)
def server_command(
    port: int | None,
    backend_store_uri: str | None,
    static_prefix: str | None,
    default_artifact_root: str | None,
    artifacts_destination: str | None,
    serve_artifacts: bool | None,
    host: str | None,
    workers: int | None,
    ssl_certfile: str | None,
    ssl_keyfile: str | None,
    allowed_hosts: str | None,
    cors_allowed_origins: str | None,
    forwarded_allow_ips: str | None,
    no_auth: bool | None,
    default_permission: str | None,
) -> None:
    """Run the tracking server (native API, MLflow REST API, artifact proxy).

    Authentication is on unless --no-auth is given: create the first admin with
    `mltrail users create NAME --admin --backend-store-uri URI`.
    """
    _run(
        no_auth=no_auth,
        default_permission=default_permission.upper() if default_permission else None,
        port=port,
        backend_store_uri=backend_store_uri,
        static_prefix=static_prefix,
        default_artifact_root=default_artifact_root,
        artifacts_destination=artifacts_destination,
        serve_artifacts=serve_artifacts,
        host=host,
        workers=workers,
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
        allowed_hosts=_csv(allowed_hosts),
        cors_allowed_origins=_csv(cors_allowed_origins),
        forwarded_allow_ips=_csv(forwarded_allow_ips),
    )


@click.command("ui")
@_common_options
@click.option("--host", default="127.0.0.1", show_default=True, help="A loopback address.")
@click.option(
    "--browser/--no-browser",
    default=True,
    show_default=True,
    help="Open the dashboard in a browser once it answers (when this machine has one).",
)
def ui_command(
    port: int | None,
    backend_store_uri: str | None,
    static_prefix: str | None,
    host: str,
    browser: bool,
) -> None:
    """Open the web UI on a local store (listens on loopback only)."""
    from functools import partial

    from mltrail.cli.browser import announce
    from mltrail.errors import ConfigurationError
    from mltrail.server.middleware import is_loopback

    if not is_loopback(host):
        raise ConfigurationError(
            f"mltrail ui serves only loopback addresses, not {host!r}; "
            "use `mltrail server` to share a tracking server"
        )
    _run(
        on_listening=partial(announce, wanted=browser),
        port=port,
        backend_store_uri=backend_store_uri,
        static_prefix=static_prefix,
        host=host,
        workers=1,
        # Local use on loopback only: no accounts to create.
        no_auth=True,
    )
