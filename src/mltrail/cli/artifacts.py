"""``mltrail artifacts``: list, download and upload a run's artifacts.

Built on the TrackingClient, so it works on every tracking URI: a folder, a database, or a
server (which may proxy the files or hand out bucket URIs). Large files show a progress bar
when stderr is a terminal.
"""

from __future__ import annotations

from pathlib import Path

import click

from mltrail.cli.context import CliState, pass_state
from mltrail.cli.output import echo_json, output_option, render_table

run_id_option = click.option(
    "--run-id", "-r", required=True, metavar="RUN_ID", help="The run whose artifacts to use."
)


def _size(n: int | None) -> str:
    return "-" if n is None else str(n)


@click.group()
def artifacts() -> None:
    """List, download and upload artifacts of a run."""


@artifacts.command("list")
@run_id_option
@click.argument("path", required=False, default="")
@output_option
@pass_state
def list_artifacts(state: CliState, run_id: str, path: str, output_format: str) -> None:
    """List the files and folders directly under PATH (default: the run's artifact root)."""
    infos = state.client().list_artifacts(run_id, path or None)
    if output_format == "json":
        echo_json(infos)
        return
    if not infos:
        click.echo(f"No artifacts under {path!r}." if path else "No artifacts.")
    else:
        rows = [
            (
                info.path + ("/" if info.is_dir else ""),
                "dir" if info.is_dir else "file",
                _size(info.file_size),
            )
            for info in infos
        ]
        click.echo(render_table(["PATH", "TYPE", "SIZE"], rows))
    if not path:
        _mention_models(state, run_id)


def _mention_models(state: CliState, run_id: str) -> None:
    """Models logged with mlflow 3's log_model live with the model, not among the run's
    artifacts: say where they are rather than let the run look empty."""
    from mltrail.cli.models import logged_models_of_run
    from mltrail.errors import MltrailError

    try:
        logged = logged_models_of_run(state.client(), run_id)
    except MltrailError:
        return
    if not logged:
        return
    names = ", ".join(f"{m.name} ({m.model_id})" for m in logged)
    click.echo(
        f"This run logged {len(logged)} model{'s' if len(logged) > 1 else ''}, stored with the "
        f"model rather than among its artifacts: {names}.\n"
        f"  mltrail models list --run-id {run_id}\n"
        f"  mltrail models download runs:/{run_id}/{logged[0].name}"
    )


@artifacts.command("download")
@run_id_option
@click.argument("path", required=False, default="")
@click.option(
    "--dst",
    "-d",
    "dst",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder to download into (created if missing). [default: a new temporary folder]",
)
@pass_state
def download_artifacts(state: CliState, run_id: str, path: str, dst: Path | None) -> None:
    """Download PATH (a file or a folder; default: everything) and print where it went."""
    local = state.client().download_artifacts(run_id, path, dst)
    click.echo(local)


@artifacts.command("upload")
@run_id_option
@click.argument("local_path", type=click.Path(exists=True, path_type=Path), metavar="LOCAL_PATH")
@click.option(
    "--artifact-path",
    "-p",
    default=None,
    metavar="PATH",
    help="Folder within the run's artifacts to upload into. [default: the root]",
)
@pass_state
def upload_artifacts(
    state: CliState, run_id: str, local_path: Path, artifact_path: str | None
) -> None:
    """Upload a file or a folder (its contents) as artifacts of the run."""
    client = state.client()
    if local_path.is_dir():
        client.log_artifacts(run_id, local_path, artifact_path)
    else:
        client.log_artifact(run_id, local_path, artifact_path)
    where = artifact_path.strip("/") if artifact_path else ""
    click.echo(f"Uploaded {local_path} to run {run_id}" + (f" under {where}/" if where else ""))
