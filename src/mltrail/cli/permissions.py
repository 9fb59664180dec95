"""``mltrail permissions``: grants on experiments and registered models.

A grant goes to a user (``alice``) or to a group (``group:ds-team``); ``signed-in`` sets an
experiment's "everyone signed in may READ / EDIT" switch.
"""

from __future__ import annotations

import json

import click

from mltrail.cli.output import output_option
from mltrail.cli.users import db_option, open_services

LEVELS = ["NONE", "READ", "EDIT", "MANAGE"]
GROUP_PREFIX = "group:"
WHO_HELP = "WHO is a user name, or group:NAME for a group."


def _group_name(who: str) -> str | None:
    return who[len(GROUP_PREFIX) :] if who.startswith(GROUP_PREFIX) else None


def _resource(experiment: str | None, model: str | None) -> tuple[str, str]:
    if (experiment is None) == (model is None):
        raise click.UsageError("Give exactly one of --experiment ID or --model NAME")
    return ("experiment", experiment) if experiment is not None else ("model", model or "")


@click.group()
def permissions() -> None:
    """Grant, revoke and list permissions on experiments and registered models."""


@permissions.command("grant", epilog=WHO_HELP)
@click.argument("who")
@click.argument("level", type=click.Choice(LEVELS, case_sensitive=False))
@click.option("--experiment", "experiment", metavar="ID", default=None)
@click.option("--model", "model", metavar="NAME", default=None, help="A registered model.")
@db_option
@click.pass_context
def grant(
    ctx: click.Context,
    who: str,
    level: str,
    experiment: str | None,
    model: str | None,
    backend_store_uri: str | None,
) -> None:
    """Give WHO (a user, or group:NAME) the LEVEL on one experiment or registered model."""
    from mltrail.service.permissions import UNRESTRICTED, Level

    kind, target = _resource(experiment, model)
    _, perms = open_services(ctx, backend_store_uri)
    parsed = Level.parse(level)
    group = _group_name(who)
    if group is not None and kind == "experiment":
        perms.set_experiment_group_grant(UNRESTRICTED, target, group=group, level=parsed)
    elif group is not None:
        perms.set_registered_model_group_grant(UNRESTRICTED, target, group=group, level=parsed)
    elif kind == "experiment":
        perms.set_experiment_grant(UNRESTRICTED, target, username=who, level=parsed)
    else:
        perms.set_registered_model_grant(UNRESTRICTED, target, username=who, level=parsed)
    click.echo(f"{who} has {parsed.name} on {kind} {target}")


@permissions.command("revoke", epilog=WHO_HELP)
@click.argument("who")
@click.option("--experiment", "experiment", metavar="ID", default=None)
@click.option("--model", "model", metavar="NAME", default=None, help="A registered model.")
@db_option
@click.pass_context
def revoke(
    ctx: click.Context,
    who: str,
    experiment: str | None,
    model: str | None,
    backend_store_uri: str | None,
) -> None:
    """Remove WHO's explicit grant (for a user, the server's default permission applies again)."""
    from mltrail.service.permissions import UNRESTRICTED

    kind, target = _resource(experiment, model)
    _, perms = open_services(ctx, backend_store_uri)
    group = _group_name(who)
    if group is not None and kind == "experiment":
        perms.delete_experiment_group_grant(UNRESTRICTED, target, group=group)
    elif group is not None:
        perms.delete_registered_model_group_grant(UNRESTRICTED, target, group=group)
    elif kind == "experiment":
        perms.delete_experiment_grant(UNRESTRICTED, target, username=who)
    else:
        perms.delete_registered_model_grant(UNRESTRICTED, target, username=who)
    click.echo(f"Revoked {who}'s grant on {kind} {target}")


@permissions.command("signed-in")
@click.argument("level", type=click.Choice(["NONE", "READ", "EDIT"], case_sensitive=False))
@click.option("--experiment", "experiment", metavar="ID", required=True)
@db_option
@click.pass_context
def signed_in(
    ctx: click.Context, level: str, experiment: str, backend_store_uri: str | None
) -> None:
    """Let everyone signed in READ or EDIT one experiment (NONE turns it off).

    The Default experiment (id 0) is shared this way at EDIT when the server first starts
    with authentication, so that scripts that name no experiment work for every user;
    `mltrail permissions signed-in NONE --experiment 0` turns that off for good.
    """
    from mltrail.service.permissions import UNRESTRICTED, Level

    _, perms = open_services(ctx, backend_store_uri)
    parsed = Level.parse(level)
    perms.set_experiment_signed_in(UNRESTRICTED, experiment, level=parsed)
    if parsed is Level.NONE:
        click.echo(f"Experiment {experiment} is no longer open to everyone signed in")
    else:
        click.echo(f"Everyone signed in has {parsed.name} on experiment {experiment}")


def _row(kind: str, resource: str, who: str, level: int) -> dict[str, str]:
    from mltrail.service.permissions import Level

    return {"kind": kind, "resource": resource, "username": who, "permission": Level(level).name}


@permissions.command("list")
@click.option("--user", "username", default=None, help="Only this user's grants.")
@click.option("--experiment", "experiment", metavar="ID", default=None)
@click.option("--model", "model", metavar="NAME", default=None)
@output_option
@db_option
@click.pass_context
def list_grants(
    ctx: click.Context,
    username: str | None,
    experiment: str | None,
    model: str | None,
    output_format: str,
    backend_store_uri: str | None,
) -> None:
    """List explicit grants (to users, to groups as group:NAME, and signed-in switches)."""
    from mltrail.errors import ResourceDoesNotExist
    from mltrail.service.permissions import parse_experiment_key

    auth, perms = open_services(ctx, backend_store_uri)
    store = perms.store
    user_id = auth.get_user(username).id if username else None
    rows: list[dict[str, str]] = []
    if model is None:
        key = None
        if experiment is not None:
            key = parse_experiment_key(experiment)
            if key is None:
                raise ResourceDoesNotExist(f"No Experiment with id={experiment} exists")
        for g in store.experiment_grants(experiment_id=key, user_id=user_id):
            rows.append(_row("experiment", g.resource, g.username, g.level))
        if user_id is None:
            for gg in store.experiment_group_grants(experiment_id=key):
                rows.append(_row("experiment", gg.resource, GROUP_PREFIX + gg.group, gg.level))
            for resource, level in store.experiment_signed_in_levels().items():
                if key is None or resource == str(key):
                    rows.append(_row("experiment", resource, "signed-in", level))
    if experiment is None:
        model_id = None
        if model is not None:
            model_id = store.registered_model_id(model)
            if model_id is None:
                raise ResourceDoesNotExist(f"Registered Model with name={model} not found")
        for g in store.registered_model_grants(model_id=model_id, user_id=user_id):
            rows.append(_row("model", g.resource, g.username, g.level))
        if user_id is None:
            for gg in store.registered_model_group_grants(model_id=model_id):
                rows.append(_row("model", gg.resource, GROUP_PREFIX + gg.group, gg.level))
    if output_format == "json":
        click.echo(json.dumps(rows))
        return
    for row in rows:
        click.echo(f"{row['kind']}\t{row['resource']}\t{row['username']}\t{row['permission']}")
    click.echo(f"(server default for everything else: {perms.default_level.name})", err=True)
