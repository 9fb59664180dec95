"""``mltrail permissions``: grants on experiments and registered models."""

from __future__ import annotations

import json

import click

from mltrail.cli.users import db_option, open_services

LEVELS = ["NONE", "READ", "EDIT", "MANAGE"]


def _resource(experiment: str | None, model: str | None) -> tuple[str, str]:
    if (experiment is None) == (model is None):
        raise click.UsageError("Give exactly one of --experiment ID or --model NAME")
    return ("experiment", experiment) if experiment is not None else ("model", model or "")


@click.group()
def permissions() -> None:
    """Grant, revoke and list permissions on experiments and registered models."""


@permissions.command("grant")
@click.argument("username")
@click.argument("level", type=click.Choice(LEVELS, case_sensitive=False))
@click.option("--experiment", "experiment", metavar="ID", default=None)
@click.option("--model", "model", metavar="NAME", default=None, help="A registered model.")
@db_option
@click.pass_context
def grant(
    ctx: click.Context,
    username: str,
    level: str,
    experiment: str | None,
    model: str | None,
    backend_store_uri: str | None,
) -> None:
    """Give USERNAME the LEVEL on one experiment or registered model."""
    from mltrail.service.permissions import UNRESTRICTED, Level

    kind, target = _resource(experiment, model)
    _, perms = open_services(ctx, backend_store_uri)
    parsed = Level.parse(level)
    if kind == "experiment":
        perms.set_experiment_grant(UNRESTRICTED, target, username=username, level=parsed)
    else:
        perms.set_registered_model_grant(UNRESTRICTED, target, username=username, level=parsed)
    click.echo(f"{username} has {parsed.name} on {kind} {target}")


@permissions.command("revoke")
@click.argument("username")
@click.option("--experiment", "experiment", metavar="ID", default=None)
@click.option("--model", "model", metavar="NAME", default=None, help="A registered model.")
@db_option
@click.pass_context
def revoke(
    ctx: click.Context,
    username: str,
    experiment: str | None,
    model: str | None,
    backend_store_uri: str | None,
) -> None:
    """Remove USERNAME's explicit grant (the server's default permission applies again)."""
    from mltrail.service.permissions import UNRESTRICTED

    kind, target = _resource(experiment, model)
    _, perms = open_services(ctx, backend_store_uri)
    if kind == "experiment":
        perms.delete_experiment_grant(UNRESTRICTED, target, username=username)
    else:
        perms.delete_registered_model_grant(UNRESTRICTED, target, username=username)
    click.echo(f"Revoked {username}'s grant on {kind} {target}")


@permissions.command("list")
@click.option("--user", "username", default=None, help="Only this user's grants.")
@click.option("--experiment", "experiment", metavar="ID", default=None)
@click.option("--model", "model", metavar="NAME", default=None)
@click.option("--output", type=click.Choice(["table", "json"]), default="table")
@db_option
@click.pass_context
def list_grants(
    ctx: click.Context,
    username: str | None,
    experiment: str | None,
    model: str | None,
    output: str,
    backend_store_uri: str | None,
) -> None:
    """List explicit grants."""
    from mltrail.errors import ResourceDoesNotExist
    from mltrail.service.permissions import Level, parse_experiment_key

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
            rows.append(
                {
                    "kind": "experiment",
                    "resource": g.resource,
                    "username": g.username,
                    "permission": Level(g.level).name,
                }
            )
    if experiment is None:
        model_id = None
        if model is not None:
            model_id = store.registered_model_id(model)
            if model_id is None:
                raise ResourceDoesNotExist(f"Registered Model with name={model} not found")
        for g in store.registered_model_grants(model_id=model_id, user_id=user_id):
            rows.append(
                {
                    "kind": "model",
                    "resource": g.resource,
                    "username": g.username,
                    "permission": Level(g.level).name,
                }
            )
    if output == "json":
        click.echo(json.dumps(rows))
        return
    for row in rows:
        click.echo(f"{row['kind']}\t{row['resource']}\t{row['username']}\t{row['permission']}")
    click.echo(f"(server default for everything else: {perms.default_level.name})", err=True)
