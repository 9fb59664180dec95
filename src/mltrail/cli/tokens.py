"""``mltrail tokens``: API tokens of the server's users, managed in the tracking database."""

from __future__ import annotations

import datetime as dt
import json

import click

from mltrail.cli.output import output_option
from mltrail.cli.users import db_option, open_services


def _when(ms: int | None) -> str:
    if ms is None:
        return "-"
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.timezone.utc).strftime("%Y-%m-%d %H:%M")


@click.group()
def tokens() -> None:
    """Create, list and revoke API tokens (shown once, stored hashed)."""


@tokens.command("create")
@click.argument("username")
@click.option("--name", required=True, help="A name to recognise the token by.")
@click.option("--expires-days", type=float, default=None, help="Expire after this many days.")
@db_option
@click.pass_context
def create_token(
    ctx: click.Context,
    username: str,
    name: str,
    expires_days: float | None,
    backend_store_uri: str | None,
) -> None:
    """Create a token for USERNAME and print it (it cannot be shown again)."""
    auth, _ = open_services(ctx, backend_store_uri)
    token = auth.create_token(username, name=name, expires_in_days=expires_days)
    click.echo(token.token)
    click.echo(
        f"Token {name!r} for {username}, expires {_when(token.expires_at)}. "
        "Store it now: it is not shown again.",
        err=True,
    )


@tokens.command("list")
@click.argument("username", required=False)
@output_option
@db_option
@click.pass_context
def list_tokens(
    ctx: click.Context, username: str | None, output_format: str, backend_store_uri: str | None
) -> None:
    """List tokens (of USERNAME, or of everyone); secrets are never shown."""
    auth, _ = open_services(ctx, backend_store_uri)
    found = auth.list_tokens(username)
    if output_format == "json":
        rows = [
            {
                "username": t.username,
                "name": t.name,
                "id_prefix": t.prefix,
                "created_at": t.created_at,
                "expires_at": t.expires_at,
                "last_used_at": t.last_used_at,
            }
            for t in found
        ]
        click.echo(json.dumps(rows))
        return
    for t in found:
        click.echo(
            f"{t.username}\t{t.name}\tmlt_{t.prefix}_…\tcreated {_when(t.created_at)}\t"
            f"expires {_when(t.expires_at)}\tlast used {_when(t.last_used_at)}"
        )


@tokens.command("revoke")
@click.argument("username")
@click.option("--name", required=True, help="The token's name.")
@db_option
@click.pass_context
def revoke_token(
    ctx: click.Context, username: str, name: str, backend_store_uri: str | None
) -> None:
    """Revoke USERNAME's token called NAME."""
    auth, _ = open_services(ctx, backend_store_uri)
    auth.revoke_token(username, name=name)
    click.echo(f"Revoked token {name!r} of {username}")
