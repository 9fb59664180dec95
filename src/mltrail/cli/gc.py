"""``mltrail gc``: permanently remove soft-deleted runs and experiments and their artifacts."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from mltrail.cli.context import CliState, pass_state
from mltrail.cli.output import echo_json, output_option

if TYPE_CHECKING:
    from mltrail.artifacts.base import ArtifactStore
    from mltrail.config import Settings
    from mltrail.service.gc import GcReport


def _csv(values: tuple[str, ...]) -> list[str] | None:
    out = [part.strip() for value in values for part in value.split(",") if part.strip()]
    return out or None


def _backend_uri(state: CliState, explicit: str | None, settings: Settings) -> str:
    from mltrail.errors import ConfigurationError
    from mltrail.uris import parse_tracking_uri

    uri = explicit or settings.backend_store_uri.strip() or state.resolved_uri()
    if parse_tracking_uri(uri).kind != "sql":
        raise ConfigurationError(
            f"mltrail gc works on the tracking database itself, not through a server ({uri!r}); "
            "pass --backend-store-uri (a folder, sqlite:///, postgresql:// or mysql://)"
        )
    return uri


@click.command("gc")
@click.option(
    "--older-than",
    metavar="AGE",
    default=None,
    help="Only what was deleted at least this long ago, e.g. 30d, 12h, 1d12h, 90m, 2w. "
    "[default: everything deleted]",
)
@click.option(
    "--experiment-ids",
    multiple=True,
    metavar="IDS",
    help="Only these experiments (comma-separated or repeated): the deleted ones among them, "
    "and the deleted runs in them.",
)
@click.option(
    "--run-ids",
    multiple=True,
    metavar="IDS",
    help="Only these deleted runs (comma-separated or repeated); no experiment is removed.",
)
@click.option(
    "--backend-store-uri",
    metavar="URI",
    default=None,
    help="The tracking database: a folder, sqlite:///x.db, postgresql://, mysql://. "
    "[default: $MLTRAIL_BACKEND_STORE_URI, else the tracking URI]",
)
@click.option(
    "--artifacts-destination",
    metavar="URI",
    default=None,
    help="Where the tracking server stores served artifacts (mlflow-artifacts:/ locations), "
    "as given to `mltrail server`. [default: as the server chooses it]",
)
@click.option("--dry-run", is_flag=True, help="List what would be removed; remove nothing.")
@output_option
@pass_state
def gc_command(
    state: CliState,
    older_than: str | None,
    experiment_ids: tuple[str, ...],
    run_ids: tuple[str, ...],
    backend_store_uri: str | None,
    artifacts_destination: str | None,
    dry_run: bool,
    output_format: str,
) -> None:
    """Permanently remove deleted runs and experiments, with their artifacts.

    Runs and experiments in the deleted state (see `mltrail runs delete`) are removed from
    the database, and their artifact folders from disk or bucket. This cannot be undone;
    try --dry-run first.
    """
    from mltrail.artifacts import open_artifact_store
    from mltrail.composition import locate_backend, open_database, served_destination
    from mltrail.config import load_settings
    from mltrail.errors import TemporarilyUnavailable
    from mltrail.service.gc import collect_garbage, parse_age
    from mltrail.store.sql.gc import SqlGarbageStore
    from mltrail.store.sql.locks import GC_JOB, STALE_UPLOADS_JOB, job_lock

    settings = load_settings()
    age_ms = parse_age(older_than) if older_than is not None else None
    settings = settings.with_overrides(
        backend_store_uri=_backend_uri(state, backend_store_uri, settings),
        artifacts_destination=artifacts_destination,
    )
    backend = locate_backend(settings)
    destination = open_artifact_store(served_destination(settings, backend), settings=settings)
    engine = open_database(backend.db_uri)
    try:
        # One gc at a time per database, whichever machine runs it (a dry run changes nothing).
        with job_lock(engine, GC_JOB) as mine:
            if not mine and not dry_run:
                raise TemporarilyUnavailable(
                    "Another `mltrail gc` is running on this database; try again once it is done"
                )
            report = collect_garbage(
                SqlGarbageStore(engine),
                open_store=lambda uri: open_artifact_store(uri, settings=settings),
                artifacts_destination=destination,
                older_than_ms=age_ms,
                experiment_ids=_csv(experiment_ids),
                run_ids=_csv(run_ids),
                dry_run=dry_run,
            )
            with job_lock(engine, STALE_UPLOADS_JOB) as uploads_mine:
                # A starting server may be removing them right now: then it does the work.
                if uploads_mine:
                    _remove_interrupted_uploads(destination, report=report, settings=settings)
    finally:
        engine.dispose()
    if output_format == "json":
        echo_json(report)
    else:
        _print_report(report)
    if report.errors:
        raise click.exceptions.Exit(1)


def _remove_interrupted_uploads(
    destination: ArtifactStore, *, report: GcReport, settings: Settings
) -> None:
    """Leftovers of uploads a killed server never finished (local destinations only: object
    stores show an object only once its upload completes)."""
    cleanup = getattr(destination, "remove_stale_uploads", None)
    if cleanup is None:
        return
    try:
        removed = cleanup(older_than_seconds=settings.stale_upload_seconds, dry_run=report.dry_run)
    except OSError as exc:
        report.errors.append(f"Interrupted uploads: {exc}")
        return
    report.interrupted_uploads.extend(removed)


def _print_report(report: GcReport) -> None:
    verb = "Would remove" if report.dry_run else "Removed"
    for exp in report.experiments:
        click.echo(f"{verb} experiment {exp.experiment_id} ({exp.name!r}, {exp.run_count} run(s))")
    for run in report.runs:
        click.echo(f"{verb} run {run.run_id} (experiment {run.experiment_id})")
    for location in report.artifact_locations:
        click.echo(f"{verb} artifacts {location}")
    for path in report.interrupted_uploads:
        click.echo(f"{verb} interrupted upload {path}")
    for error in report.errors:
        click.echo(f"Error: {error}", err=True)
    click.echo(
        f"{verb} {len(report.experiments)} experiment(s), {len(report.runs)} run(s), "
        f"{len(report.artifact_locations)} artifact folder(s)."
        + (" Nothing was changed (dry run)." if report.dry_run else "")
    )
