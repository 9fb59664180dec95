"""``mltrail users``: the server's user accounts, managed directly in the tracking database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from mltrail.cli.output import output_option

if TYPE_CHECKING:
    from mltrail.config import Settings
    from mltrail.service.auth import AuthService
    from mltrail.service.permissions import PermissionService

DB_OPTION_HELP = (
    "The server's --backend-store-uri (sqlite:///, postgresql://, mysql:// or a folder). "
    "Default: $MLTRAIL_BACKEND_STORE_URI, else --tracking-uri, else ./mltrail."
)


def db_option(function: Any) -> Any:
    return click.option(
        "--backend-store-uri", "backend_store_uri", metavar="URI", default=None, help=DB_OPTION_HELP
    )(function)


def _settings(ctx: click.Context, backend_store_uri: str | None) -> Settings:
    from mltrail.cli.context import CliState
    from mltrail.config import load_settings

    state = ctx.find_object(CliState)
    uri = backend_store_uri or load_settings().backend_store_uri
    if not uri and state is not None and state.tracking_uri:
        uri = state.tracking_uri
    return load_settings(backend_store_uri=uri or "")


def open_services(
    ctx: click.Context, backend_store_uri: str | None
) -> tuple[AuthService, PermissionService]:
    """The auth and permission services over the database (created or upgraded if needed)."""
    from mltrail.composition import locate_backend, open_auth, open_database

    settings = _settings(ctx, backend_store_uri)
    engine = open_database(locate_backend(settings).db_uri)
    ctx.call_on_close(engine.dispose)
    state = open_auth(engine, settings)
    return state.auth, state.permissions


def read_password(password_file: str | None, *, prompt: str = "Password") -> str:
    if password_file == "-":
        import sys

        return sys.stdin.readline().rstrip("\r\n")
    if password_file:
        return Path(password_file).read_text(encoding="utf-8").rstrip("\r\n")
    value: str = click.prompt(prompt, hide_input=True, confirmation_prompt=True)
    return value


@click.group()
def users() -> None:
    """Create, list and delete users of `mltrail server` (stored in its database)."""


@users.command("create")
@click.argument("name")
@click.option("--admin", is_flag=True, help="Make the user an administrator.")
@click.option(
    "--password-file",
    metavar="FILE",
    default=None,
    help="Read the password from FILE ('-' for stdin) instead of prompting.",
)
@db_option
@click.pass_context
def create_user(
    ctx: click.Context,
    name: str,
    admin: bool,
    password_file: str | None,
    backend_store_uri: str | None,
) -> None:
    """Create the user NAME (the password is prompted for; at least 12 characters)."""
    auth, _ = open_services(ctx, backend_store_uri)
    password = read_password(password_file)
    user = auth.create_user(name, password, is_admin=admin)
    click.echo(f"Created {'admin ' if user.is_admin else ''}user {user.username}")


@users.command("list")
@output_option
@db_option
@click.pass_context
def list_users(ctx: click.Context, output_format: str, backend_store_uri: str | None) -> None:
    """List the users."""
    auth, _ = open_services(ctx, backend_store_uri)
    found = auth.list_users()
    if output_format == "json":
        click.echo(
            json.dumps(
                [
                    {
                        "id": u.id,
                        "username": u.username,
                        "is_admin": u.is_admin,
                        "must_change_password": u.must_change_password,
                    }
                    for u in found
                ]
            )
        )
        return
    for user in found:
        notes = [
            n
            for n, on in (
                ("admin", user.is_admin),
                ("must change password", user.must_change_password),
            )
            if on
        ]
        click.echo(user.username + (f"  ({', '.join(notes)})" if notes else ""))


@users.command("delete")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@db_option
@click.pass_context
def delete_user(ctx: click.Context, name: str, yes: bool, backend_store_uri: str | None) -> None:
    """Delete the user NAME (their tokens, sessions and grants go with them)."""
    auth, _ = open_services(ctx, backend_store_uri)
    if not yes:
        click.confirm(f"Delete user {name}?", abort=True)
    auth.delete_user(name)
    click.echo(f"Deleted user {name}")


@users.command("passwd")
@click.argument("name")
@click.option(
    "--password-file",
    metavar="FILE",
    default=None,
    help="Read the new password from FILE ('-' for stdin).",
)
@db_option
@click.pass_context
def change_password(
    ctx: click.Context, name: str, password_file: str | None, backend_store_uri: str | None
) -> None:
    """Set a new password for NAME (ends their browser sessions)."""
    auth, _ = open_services(ctx, backend_store_uri)
    auth.get_user(name)
    auth.set_password(name, read_password(password_file, prompt="New password"))
    click.echo(f"Password of {name} changed")


@users.command("set-admin")
@click.argument("name")
@click.argument("value", type=click.Choice(["true", "false"]), default="true")
@db_option
@click.pass_context
def set_admin(ctx: click.Context, name: str, value: str, backend_store_uri: str | None) -> None:
    """Make NAME an administrator (VALUE true, the default) or not (false)."""
    auth, _ = open_services(ctx, backend_store_uri)
    auth.set_admin(name, is_admin=value == "true")
    click.echo(f"{name} is {'now' if value == 'true' else 'no longer'} an admin")


@users.command("import-htpasswd")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@db_option
@click.pass_context
def import_htpasswd(ctx: click.Context, file: str, backend_store_uri: str | None) -> None:
    """Import the users of an Apache htpasswd FILE, whatever htpasswd hashed them with.

    Every kind htpasswd writes is imported: $apr1$ (its default), bcrypt (-B), SHA-256/512
    crypt (-2, -5), {SHA} (-s), DES crypt (-d) and plain (-p). Each password is verified
    as it is at the user's next login and then re-hashed with argon2id; a weak one (under 12
    characters, the user name, or DES) must be changed at that login. Users who already
    exist are left alone.
    """
    auth, _ = open_services(ctx, backend_store_uri)
    lines = Path(file).read_text(encoding="utf-8", errors="replace").splitlines()
    imported, skipped = auth.import_htpasswd(lines)
    for user in imported:
        note = f"; must change it at the next login: {user.weak}" if user.weak else ""
        click.echo(f"Imported {user.username} ({user.kind}{note})")
    for reason in skipped:
        click.echo(f"Skipped {reason}", err=True)
    click.echo(f"{len(imported)} imported, {len(skipped)} skipped")
