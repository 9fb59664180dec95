"""``mltrail experiments``: list, create, delete and restore experiments."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from mltrail.cli.context import CliState, pass_state
from mltrail.cli.listing import read_pages, view_option, view_type
from mltrail.cli.output import echo_json, format_time, output_option, render_table

if TYPE_CHECKING:
    from mltrail.client.tracking_client import TrackingClient
    from mltrail.entities import Experiment


@click.group()
def experiments() -> None:
    """List, create, delete and restore experiments."""


@experiments.command("list")
@view_option("experiments")
@output_option
@pass_state
def list_experiments(state: CliState, view: str, output_format: str) -> None:
    """List experiments with their id, name, stage and artifact location."""
    client = state.client()
    found = read_pages(
        lambda size, token: client.search_experiments(
            view_type=view_type(view), max_results=size, page_token=token
        )
    )
    if output_format == "json":
        echo_json(found)
        return
    rows = [
        (
            e.experiment_id,
            e.name,
            e.lifecycle_stage,
            format_time(e.creation_time),
            e.artifact_location,
        )
        for e in found
    ]
    click.echo(render_table(("id", "name", "stage", "created", "artifact location"), rows))


@experiments.command("create")
@click.argument("name")
@click.option(
    "--artifact-location",
    metavar="URI",
    default=None,
    help="Where this experiment's artifacts go (a folder or fsspec URL). "
    "Default: the store's artifact root.",
)
@output_option
@pass_state
def create_experiment(
    state: CliState, name: str, artifact_location: str | None, output_format: str
) -> None:
    """Create an experiment called NAME and print its id."""
    client = state.client()
    experiment_id = client.create_experiment(name, artifact_location=artifact_location)
    if output_format == "json":
        echo_json(client.get_experiment(experiment_id))
        return
    click.echo(f"Created experiment {name!r} with id {experiment_id}")


@experiments.command("delete")
@click.argument("id_or_name")
@pass_state
def delete_experiment(state: CliState, id_or_name: str) -> None:
    """Delete an experiment (and hide its runs); `restore` brings it back."""
    client = state.client()
    experiment = find_experiment(client, id_or_name)
    client.delete_experiment(experiment.experiment_id)
    click.echo(f"Deleted experiment {experiment.name!r} (id {experiment.experiment_id})")


@experiments.command("restore")
@click.argument("id_or_name")
@pass_state
def restore_experiment(state: CliState, id_or_name: str) -> None:
    """Restore a deleted experiment."""
    client = state.client()
    experiment = find_experiment(client, id_or_name)
    client.restore_experiment(experiment.experiment_id)
    click.echo(f"Restored experiment {experiment.name!r} (id {experiment.experiment_id})")


def find_experiment(client: TrackingClient, id_or_name: str) -> Experiment:
    """The experiment named ``id_or_name``, else the one with that id.

    The name wins when both exist, because names are what people type; ids are the
    fallback for scripts. Deleted experiments are found too (so they can be restored).
    """
    from mltrail.errors import InvalidParameterValue, ResourceDoesNotExist

    by_name = client.get_experiment_by_name(id_or_name)
    if by_name is not None:
        return by_name
    try:
        return client.get_experiment(id_or_name)
    except (ResourceDoesNotExist, InvalidParameterValue):
        # A name that is not a well-formed id may be answered with "invalid id";
        # for the user it is simply not there.
        pass
    raise ResourceDoesNotExist(f"No experiment with name or id {id_or_name!r}")
