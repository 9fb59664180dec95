"""``mltrail models``: logged models and the model registry from the command line.

Works on every tracking URI (a folder, a database or a server), through the TrackingClient.
Models are named the way the Python APIs name them: ``runs:/<run_id>/<name>``,
``models:/<model_id>``, ``models:/<name>/<version>`` and ``models:/<name>@<alias>``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from mltrail.cli.context import CliState, pass_state
from mltrail.cli.models_serve import predict_command, serve_command
from mltrail.cli.output import echo_json, format_time, output_option, render_pairs, render_table

if TYPE_CHECKING:
    from mltrail.client.tracking_client import TrackingClient
    from mltrail.model_entities import LoggedModel, ModelVersion, RegisteredModel

MAX_LISTED = 1000


@click.group()
def models() -> None:
    """List, show, register, alias, tag, delete, download and serve models."""


models.add_command(serve_command)
models.add_command(predict_command)


def _quoted(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def logged_models_of_run(client: TrackingClient, run_id: str) -> list[LoggedModel]:
    run = client.get_run(run_id)
    return list(
        client.search_logged_models(
            [run.info.experiment_id],
            filter_string=f"source_run_id = {_quoted(run_id)}",
            max_results=100,
        )
    )


def _status(model: LoggedModel) -> str:
    return model.status.value.replace("LOGGED_MODEL_", "").lower().replace("_", " ")


def _logged_table(found: list[LoggedModel]) -> str:
    rows = [
        (
            m.name,
            m.model_id,
            _status(m),
            m.source_run_id or "-",
            f"runs:/{m.source_run_id}/{m.name}" if m.source_run_id else f"models:/{m.model_id}",
        )
        for m in found
    ]
    return render_table(["NAME", "MODEL ID", "STATUS", "RUN", "LOAD WITH"], rows)


def _registered_table(found: list[RegisteredModel]) -> str:
    rows = []
    for m in found:
        latest = max((v.version for v in m.latest_versions), default=None)
        aliases = ", ".join(f"@{a}=v{v}" for a, v in sorted(m.aliases.items()))
        rows.append(
            (
                m.name,
                "-" if latest is None else str(latest),
                aliases or "-",
                format_time(m.last_updated_timestamp),
                (m.description or "").splitlines()[0][:50] if m.description else "",
            )
        )
    return render_table(["NAME", "LATEST", "ALIASES", "UPDATED", "DESCRIPTION"], rows)


@models.command("list")
@click.option("--run-id", "-r", default=None, metavar="RUN_ID", help="Models this run logged.")
@click.option("--experiment", "-e", default=None, metavar="NAME_OR_ID", help="Models logged in it.")
@click.option("--name", "name_filter", default="", metavar="TEXT", help="Names containing TEXT.")
@output_option
@pass_state
def list_models(
    state: CliState,
    run_id: str | None,
    experiment: str | None,
    name_filter: str,
    output_format: str,
) -> None:
    """Registered models; with --run-id or --experiment, the logged models there instead."""
    from mltrail.cli.experiments import find_experiment
    from mltrail.cli.listing import read_pages

    client = state.client()
    if run_id is not None or experiment is not None:
        if run_id is not None:
            logged = logged_models_of_run(client, run_id)
        else:
            experiment_id = find_experiment(client, experiment or "").experiment_id
            logged = read_pages(
                lambda size, token: client.search_logged_models(
                    [experiment_id], max_results=size, page_token=token
                ),
                limit=MAX_LISTED,
            )
        logged = [m for m in logged if name_filter.lower() in m.name.lower()]
        if output_format == "json":
            echo_json(logged)
        elif not logged:
            click.echo("No logged models.")
        else:
            click.echo(_logged_table(logged))
        return
    like = name_filter.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    registered = read_pages(
        lambda size, token: client.search_registered_models(
            filter_string=f"name ILIKE {_quoted('%' + like + '%')}" if name_filter else None,
            max_results=size,
            order_by=["name ASC"],
            page_token=token,
        ),
        limit=MAX_LISTED,
    )
    if output_format == "json":
        echo_json(registered)
    elif not registered:
        click.echo("No registered models. Register one: mltrail models register MODEL_URI NAME")
    else:
        click.echo(_registered_table(registered))


def _version_pairs(v: ModelVersion) -> list[tuple[str, str]]:
    return [
        ("name", v.name),
        ("version", str(v.version)),
        ("stage", v.current_stage),
        ("aliases", ", ".join(f"@{a}" for a in v.aliases) or "-"),
        ("status", v.status),
        ("source", v.source),
        ("run id", v.run_id or "-"),
        ("logged model", v.model_id or "-"),
        ("stored at", v.storage_location),
        ("registered", format_time(v.creation_timestamp)),
        ("description", v.description or "-"),
        *((f"tag {k}", val) for k, val in sorted(v.tags.items())),
        ("load with", f"models:/{v.name}/{v.version}"),
    ]


@models.command("show")
@click.argument("model")
@output_option
@pass_state
def show_model(state: CliState, model: str, output_format: str) -> None:
    """Show MODEL: a registered model's NAME (with its versions), models:/NAME/VERSION,
    models:/NAME@ALIAS, or a logged model (models:/<model_id>)."""
    from mltrail.models.uri import parse_models_uri

    client = state.client()
    if not model.startswith("models:"):
        registered = client.get_registered_model(model)
        versions = list(
            client.search_model_versions(
                filter_string=f"name = {_quoted(registered.name)}",
                order_by=["version_number DESC"],
                max_results=MAX_LISTED,
            )
        )
        if output_format == "json":
            echo_json({"registered_model": registered, "versions": versions})
            return
        pairs = [
            ("name", registered.name),
            ("description", registered.description or "-"),
            (
                "aliases",
                ", ".join(f"@{a}=v{v}" for a, v in sorted(registered.aliases.items())) or "-",
            ),
            ("updated", format_time(registered.last_updated_timestamp)),
            *((f"tag {k}", v) for k, v in sorted(registered.tags.items())),
        ]
        rows = [
            (
                str(v.version),
                v.current_stage,
                ", ".join(v.aliases) or "-",
                v.run_id or "-",
                v.source,
            )
            for v in versions
        ]
        table = (
            render_table(["VERSION", "STAGE", "ALIASES", "RUN", "SOURCE"], rows)
            if rows
            else "(no versions)"
        )
        click.echo(render_pairs(pairs) + "\n\nVersions\n" + table)
        return
    parsed = parse_models_uri(model)
    if parsed.model_id is not None:
        logged = client.get_logged_model(parsed.model_id)
        if output_format == "json":
            echo_json(logged)
            return
        click.echo(
            render_pairs(
                [
                    ("name", logged.name),
                    ("model id", logged.model_id),
                    ("status", _status(logged)),
                    ("experiment id", logged.experiment_id),
                    ("run id", logged.source_run_id or "-"),
                    ("stored at", logged.artifact_location),
                    *((f"param {k}", v) for k, v in sorted(logged.params.items())),
                    *((f"metric {m.key}", str(m.value)) for m in logged.metrics),
                    *((f"tag {k}", v) for k, v in sorted(logged.tags.items())),
                ]
            )
        )
        return
    assert parsed.name is not None
    if parsed.alias is not None:
        version = client.get_model_version_by_alias(parsed.name, parsed.alias)
    elif parsed.version is not None:
        version = client.get_model_version(parsed.name, parsed.version)
    else:
        raise click.UsageError(
            "Show a version by number or alias: models:/NAME/3 or models:/NAME@ALIAS"
        )
    if output_format == "json":
        echo_json(version)
        return
    click.echo(render_pairs(_version_pairs(version)))


@models.command("register")
@click.argument("model_uri")
@click.argument("name")
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help="A tag of the version.")
@output_option
@pass_state
def register_model(
    state: CliState, model_uri: str, name: str, tags: tuple[str, ...], output_format: str
) -> None:
    """Register the model at MODEL_URI (runs:/RUN_ID/NAME, models:/<model_id>) as a new
    version of NAME (the registered model is created if it does not exist)."""
    from mltrail.client.model_registration import register

    version = register(state.client(), model_uri, name, tags=_pairs(tags))
    if output_format == "json":
        echo_json(version)
        return
    click.echo(
        f"Registered {version.name} version {version.version} (models:/{version.name}/{version.version})"
    )


def _pairs(items: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--tag")
        out[key] = value
    return out


@models.command("alias")
@click.argument("name")
@click.argument("alias")
@click.argument("version", required=False)
@click.option("--delete", is_flag=True, help="Remove the alias instead.")
@pass_state
def alias_model(state: CliState, name: str, alias: str, version: str | None, delete: bool) -> None:
    """Point ALIAS of the registered model NAME at VERSION (moving it if it pointed elsewhere),
    or remove it with --delete."""
    client = state.client()
    if delete:
        if version is not None:
            raise click.UsageError("--delete takes no VERSION")
        client.delete_registered_model_alias(name, alias)
        click.echo(f"Removed alias @{alias} of {name}")
        return
    if version is None:
        raise click.UsageError("Give the VERSION the alias should name (or --delete)")
    from mltrail.errors import ResourceDoesNotExist

    try:
        before: int | None = client.get_model_version_by_alias(name, alias).version
    except ResourceDoesNotExist:  # a new alias: nothing moves
        before = None
    client.set_registered_model_alias(name, alias, version)
    moved = f" (was version {before})" if before is not None and str(before) != version else ""
    click.echo(f"{name}@{alias} -> version {version}{moved}")


@models.command("tag")
@click.argument("name")
@click.argument("key")
@click.argument("value", required=False)
@click.option("--version", "-v", "version", default=None, help="Tag this version, not the model.")
@click.option("--delete", is_flag=True, help="Remove the tag instead.")
@pass_state
def tag_model(
    state: CliState, name: str, key: str, value: str | None, version: str | None, delete: bool
) -> None:
    """Set the tag KEY=VALUE on the registered model NAME (or one of its versions), or remove
    it with --delete."""
    client = state.client()
    target = name if version is None else f"{name} version {version}"
    if delete:
        if version is None:
            client.delete_registered_model_tag(name, key)
        else:
            client.delete_model_version_tag(name, version, key)
        click.echo(f"Removed tag {key} of {target}")
        return
    if value is None:
        raise click.UsageError("Give the tag's VALUE (or --delete)")
    if version is None:
        client.set_registered_model_tag(name, key, value)
    else:
        client.set_model_version_tag(name, version, key, value)
    click.echo(f"Tagged {target}: {key}={value}")


@models.command("delete")
@click.argument("name")
@click.option("--version", "-v", "version", default=None, help="Delete only this version.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_state
def delete_model(state: CliState, name: str, version: str | None, yes: bool) -> None:
    """Delete the registered model NAME and all its versions, or one --version of it.
    (The logged models and run files they came from stay.)"""
    client = state.client()
    what = (
        f"version {version} of {name}"
        if version
        else f"the registered model {name} and all its versions"
    )
    if not yes:
        click.confirm(f"Delete {what}?", abort=True)
    if version is None:
        client.delete_registered_model(name)
    else:
        client.delete_model_version(name, version)
    click.echo(f"Deleted {what}")


@models.command("download")
@click.argument("model_uri")
@click.option(
    "--dst",
    "-d",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder to download into (created if missing). [default: a new temporary folder]",
)
@pass_state
def download_model(state: CliState, model_uri: str, dst: Path | None) -> None:
    """Download the files of MODEL_URI (runs:/RUN_ID/NAME, models:/<model_id>,
    models:/NAME/VERSION, models:/NAME@ALIAS) and print where they went."""
    from mltrail.models.uri import download_model as fetch

    if dst is not None:
        dst.mkdir(parents=True, exist_ok=True)
    click.echo(fetch(state.client(), model_uri, dst))
