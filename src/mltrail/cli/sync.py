"""``mltrail sync``: upload the offline spool to the tracking server."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from mltrail.cli.context import CliState, pass_state


@click.command("sync")
@click.option(
    "--spool-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The spool folder. Default: $MLTRAIL_SPOOL_DIR, else ~/.mltrail/spool.",
)
@click.option("--list", "list_only", is_flag=True, help="Only show what is waiting; send nothing.")
@pass_state
def sync_command(state: CliState, spool_dir: Path | None, list_only: bool) -> None:
    """Upload what offline or cut-off processes left in the spool.

    Runs created offline (MLTRAIL_OFFLINE=1) are created on the server with the ids they
    got offline. Each batch is applied once, also when sync is interrupted and run again.
    Artifacts and models kept while the server was down are uploaded after the run's
    metrics, and the run's end (the status its script gave it) is recorded last.
    The server is the one each run logged to, unless --tracking-uri names another.
    """
    from mltrail.client.spool import spool_directory
    from mltrail.client.sync import pending, sync_directory
    from mltrail.config import load_settings

    settings = load_settings()
    directory = spool_dir or spool_directory(settings)
    waiting = pending(directory)
    if list_only or waiting.files == 0:
        click.echo(
            f"{waiting.points} metric points in {waiting.batches} batches and "
            f"{waiting.uploads} artifacts or models ({waiting.upload_bytes:,} bytes) in "
            f"{waiting.files} spool files in {directory}"
        )
        return
    with click.progressbar(
        length=max(waiting.points, 1), label="Syncing", file=sys.stderr, show_pos=True
    ) as bar:
        report = sync_directory(
            directory, settings=settings, tracking_uri=state.tracking_uri, on_progress=bar.update
        )
    click.echo(
        f"Synced {report.points} metric points in {report.batches} batches and "
        f"{report.uploads} artifacts or models ({report.upload_bytes:,} bytes) "
        f"of {len(report.runs)} runs from {report.files} spool files"
    )
    for path in report.busy:
        click.echo(f"Skipped {path}: a running process is still writing it", err=True)
    for path, message in report.failed:
        click.echo(f"Not synced {path}: {message}", err=True)
    if report.failed:
        sys.exit(1)
