"""``mltrail groups``: groups of users, managed directly in the tracking database.

Grant a group a level with ``mltrail permissions grant group:NAME LEVEL --experiment ID``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from mltrail.cli.output import output_option
from mltrail.cli.users import db_option, open_services

if TYPE_CHECKING:
    from mltrail.service.groups import GroupService


def _service(ctx: click.Context, backend_store_uri: str | None) -> GroupService:
    from mltrail.service.groups import GroupService

    auth, _ = open_services(ctx, backend_store_uri)
    return GroupService(auth.store)  # type: ignore[arg-type]


@click.group()
def groups() -> None:
    """Create groups of users and change their members (grants go to every member)."""


@groups.command("create")
@click.argument("name")
@click.argument("members", nargs=-1)
@db_option
@click.pass_context
def create_group(
    ctx: click.Context, name: str, members: tuple[str, ...], backend_store_uri: str | None
) -> None:
    """Create the group NAME, with the users MEMBERS... if given."""
    _service(ctx, backend_store_uri).create(name, list(members))
    suffix = f" with {', '.join(members)}" if members else ""
    click.echo(f"Created group {name}{suffix}")


@groups.command("delete")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@db_option
@click.pass_context
def delete_group(ctx: click.Context, name: str, yes: bool, backend_store_uri: str | None) -> None:
    """Delete the group NAME (its grants go with it; its users stay)."""
    service = _service(ctx, backend_store_uri)
    service.get(name)
    if not yes:
        click.confirm(f"Delete group {name} and its grants?", abort=True)
    service.delete(name)
    click.echo(f"Deleted group {name}")


@groups.command("add")
@click.argument("name")
@click.argument("members", nargs=-1, required=True)
@db_option
@click.pass_context
def add_members(
    ctx: click.Context, name: str, members: tuple[str, ...], backend_store_uri: str | None
) -> None:
    """Add the users MEMBERS... to the group NAME."""
    added = _service(ctx, backend_store_uri).add(name, list(members))
    already = [m for m in members if m not in added]
    if added:
        click.echo(f"Added {', '.join(added)} to {name}")
    if already:
        click.echo(f"Already in {name}: {', '.join(already)}")


@groups.command("remove")
@click.argument("name")
@click.argument("members", nargs=-1, required=True)
@db_option
@click.pass_context
def remove_members(
    ctx: click.Context, name: str, members: tuple[str, ...], backend_store_uri: str | None
) -> None:
    """Remove the users MEMBERS... from the group NAME."""
    removed = _service(ctx, backend_store_uri).remove(name, list(members))
    absent = [m for m in members if m not in removed]
    if removed:
        click.echo(f"Removed {', '.join(removed)} from {name}")
    if absent:
        click.echo(f"Not in {name}: {', '.join(absent)}")


@groups.command("list")
@output_option
@db_option
@click.pass_context
def list_groups(ctx: click.Context, output_format: str, backend_store_uri: str | None) -> None:
    """List the groups and their members."""
    found = _service(ctx, backend_store_uri).all()
    if output_format == "json":
        click.echo(json.dumps([{"name": g.name, "members": list(g.members)} for g in found]))
        return
    if not found:
        click.echo("No groups. Create one with: mltrail groups create NAME [USER...]")
    for group in found:
        click.echo(f"{group.name}\t{', '.join(group.members) or '(no members)'}")


@groups.command("show")
@click.argument("name")
@output_option
@db_option
@click.pass_context
def show_group(
    ctx: click.Context, name: str, output_format: str, backend_store_uri: str | None
) -> None:
    """Show the group NAME: its members and what it was granted."""
    from mltrail.service.permissions import Level

    service = _service(ctx, backend_store_uri)
    group = service.get(name)
    experiments, models = service.grants(name)
    grants = [("experiment", g) for g in experiments] + [("model", g) for g in models]
    if output_format == "json":
        rows = [
            {"kind": kind, "resource": g.resource, "permission": Level(g.level).name}
            for kind, g in grants
        ]
        click.echo(json.dumps({"name": group.name, "members": list(group.members), "grants": rows}))
        return
    click.echo(f"Group {group.name}: {', '.join(group.members) or '(no members)'}")
    for kind, g in grants:
        click.echo(f"{kind}\t{g.resource}\t{Level(g.level).name}")
    if not grants:
        click.echo(
            f"No grants yet: mltrail permissions grant group:{group.name} READ --experiment ID"
        )
