"""``mltrail import mlflow|mltrail SOURCE`` and ``mltrail export DEST``.

Both imports write into the current tracking URI (a folder, a database, or a server over
HTTP with the usual ``MLTRAIL_TRACKING_*`` credentials), print what moved, then compare
source and target and print the table; a problem or a difference exits with 1 (and a
re-run continues where it stopped). See docs/import-export.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from mltrail.cli.context import CliState, pass_state

if TYPE_CHECKING:
    from mltrail.config import Settings
    from mltrail.transfer.engine import ImportReport
    from mltrail.transfer.sources.base import Source


def _common_import_options(function: Any) -> Any:
    options = [
        click.option(
            "--experiment",
            "experiments",
            multiple=True,
            metavar="NAME",
            help="Only this experiment (repeat for several). [default: all]",
        ),
        click.option(
            "--artifacts",
            "artifacts_mode",
            type=click.Choice(["copy", "reference"]),
            default="copy",
            show_default=True,
            help="copy: into mltrail's artifact store; reference: keep the existing "
            "locations (when mltrail can read them).",
        ),
        click.option(
            "--dry-run", is_flag=True, help="Count what would be imported; write nothing."
        ),
        click.option(
            "--include-deleted", is_flag=True, help="Also deleted experiments, runs and models."
        ),
        click.option(
            "--on-conflict",
            type=click.Choice(["fail", "skip", "rename"]),
            default="fail",
            show_default=True,
            help="When a name exists in the target: stop before writing, leave it out, or "
            "import under '<name> (imported)'.",
        ),
        click.option(
            "--artifacts-destination",
            metavar="URL",
            default=None,
            help="For a database target served by `mltrail server --artifacts-destination "
            "URL`: copy the files there (recorded as mlflow-artifacts:/ locations). "
            "[default: $MLTRAIL_ARTIFACTS_DESTINATION]",
        ),
        click.option(
            "--state",
            "state_file",
            type=click.Path(dir_okay=False, path_type=Path),
            default=None,
            help="The import's map file. [default: beside a local target database, else "
            "~/.mltrail/imports/]",
        ),
        click.option(
            "--no-verify", is_flag=True, help="Skip the final comparison of source and target."
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


@click.group("import")
def import_group() -> None:
    """Import into the current tracking URI: from MLflow, or an mltrail snapshot."""


@import_group.command("mlflow")
@click.argument("source")
@_common_import_options
@click.option(
    "--auth-db",
    metavar="PATH",
    default=None,
    help="MLflow's basic_auth.db (or its database URI): users and permissions become "
    "mltrail users and grants (database targets only).",
)
@click.option(
    "--mlflow-artifacts-root",
    metavar="URL",
    default=None,
    help="Where an MLflow server kept proxied artifacts (its --artifacts-destination), for "
    "mlflow-artifacts:/ locations in a database or folder SOURCE.",
)
@click.option(
    "--workspace",
    default="default",
    show_default=True,
    help="The MLflow workspace to import from (MLflow 3 databases).",
)
@pass_state
def import_mlflow(
    state: CliState,
    /,
    source: str,
    auth_db: str | None,
    mlflow_artifacts_root: str | None,
    workspace: str,
    **options: Any,
) -> None:
    """Import MLflow data: sqlite:///mlflow.db, postgresql://, mysql://, an mlruns folder,
    or a running MLflow server http(s):// (MLFLOW_TRACKING_USERNAME/PASSWORD/TOKEN).

    Run ids, logged-model ids and registered-model version numbers are kept; experiments
    get ids of the target. Running it again imports only what is new or changed.
    """
    from mltrail.config import load_settings
    from mltrail.transfer.endpoints import open_mlflow_source

    settings = load_settings()
    opened = open_mlflow_source(
        source,
        settings=settings,
        mlflow_artifacts_root=mlflow_artifacts_root,
        workspace=workspace,
    )
    _run_import(state, opened, settings=settings, auth_db=auth_db, **options)


@import_group.command("mltrail")
@click.argument("snapshot")
@_common_import_options
@click.option(
    "--source-artifacts-destination",
    metavar="URL",
    default=None,
    help="For an mltrail database SNAPSHOT whose runs use mlflow-artifacts:/ locations: the "
    "--artifacts-destination of the server that served it.",
)
@pass_state
def import_mltrail(
    state: CliState,
    /,
    snapshot: str,
    source_artifacts_destination: str | None,
    **options: Any,
) -> None:
    """Restore a snapshot made by `mltrail export` (or copy another mltrail store, given
    as a folder or database URI) into the current tracking URI."""
    from mltrail.config import load_settings
    from mltrail.transfer.endpoints import open_mltrail_source

    settings = load_settings()
    _require_pyarrow("mltrail import mltrail")
    opened = open_mltrail_source(
        snapshot,
        settings=settings,
        artifacts_root=source_artifacts_destination or settings.artifacts_destination or None,
    )
    _run_import(state, opened, settings=settings, auth_db=None, **options)


def _run_import(
    state: CliState,
    source: Source,
    *,
    settings: Settings,
    experiments: tuple[str, ...],
    artifacts_mode: str,
    dry_run: bool,
    include_deleted: bool,
    on_conflict: str,
    artifacts_destination: str | None,
    state_file: Path | None,
    no_verify: bool,
    auth_db: str | None,
) -> None:
    from mltrail.transfer.endpoints import open_target
    from mltrail.transfer.engine import Importer, ImportOptions
    from mltrail.transfer.progress import Progress
    from mltrail.transfer.state import ImportState, default_state_path
    from mltrail.uris import parse_tracking_uri

    uri = state.resolved_uri()
    if artifacts_destination is None and parse_tracking_uri(uri).kind == "sql":
        # As `mltrail server` and `mltrail gc` read it from the environment.
        artifacts_destination = settings.artifacts_destination.strip() or None
    try:
        target = open_target(uri, settings=settings, artifacts_destination=artifacts_destination)
    except BaseException:
        source.close()
        raise
    try:
        path = state_file or default_state_path(
            source=source.label, target=target.label, target_db_file=target.db_file
        )
        import_state = ImportState.load(path, source=source.label, target=target.label)
        if dry_run:
            import_state.path = None  # a dry run reads the map and never writes it
        options = ImportOptions(
            experiments=tuple(experiments),
            artifacts="reference" if artifacts_mode == "reference" else "copy",
            dry_run=dry_run,
            include_deleted=include_deleted,
            on_conflict=on_conflict,  # type: ignore[arg-type]
            verify=not no_verify,
        )
        importer = Importer(
            source, target, state=import_state, options=options, progress=Progress()
        )
        report = importer.run()
        if auth_db and not dry_run:
            from mltrail.transfer.auth_import import import_auth

            import_auth(auth_db, target=target, state=import_state, report=report)
    finally:
        source.close()
        target.close()
    _print_report(report)
    _fail_unless_complete(report)


def _fail_unless_complete(report: ImportReport) -> None:
    from mltrail.transfer.errors import TransferFailed

    if report.ok:
        return
    differences = (
        0 if report.comparison is None else sum(r.differences for r in report.comparison.rows)
    )
    raise TransferFailed(
        f"the import is incomplete: {len(report.problems)} problem(s), {differences} "
        "difference(s) (listed above). What was imported is kept; fix them and run the same "
        "command again to continue"
    )


COUNT_ORDER = (
    "experiments (new)",
    "experiments (updated)",
    "experiments (already there)",
    "runs (new)",
    "runs (updated)",
    "runs (unchanged)",
    "runs",
    "params",
    "tags",
    "metric keys",
    "metric points",
    "artifact files",
    "artifact bytes",
    "logged models",
    "registered models",
    "model versions",
    "aliases",
    "users",
    "grants",
)


def _print_report(report: ImportReport) -> None:
    verb = "Would import" if report.dry_run else "Imported"
    click.echo(f"{verb} from {report.source} into {report.target}")
    names = [n for n in COUNT_ORDER if n in report.counts]
    names += sorted(n for n in report.counts if n not in COUNT_ORDER)
    for name in names:
        click.echo(f"  {name:<28}{report.counts[name]:>14,}")
    if not report.counts:
        click.echo("  nothing new")
    if report.notes:
        click.echo("Notes:")
        for note in report.notes:
            click.echo(f"  - {note}")
    if report.comparison is not None:
        click.echo("Verification (source vs target):")
        click.echo(report.comparison.table())
    if report.problems:
        click.echo("Problems:")
        for problem in report.problems[:50]:
            click.echo(f"  - {problem}")
        if len(report.problems) > 50:
            click.echo(f"  ... and {len(report.problems) - 50} more")


@click.command("export")
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--experiment",
    "experiments",
    multiple=True,
    metavar="NAME",
    help="Only this experiment (repeat for several). [default: all]",
)
@click.option("--include-deleted", is_flag=True, help="Also deleted experiments, runs and models.")
@click.option(
    "--artifacts-destination",
    metavar="URL",
    default=None,
    help="For a database whose runs use mlflow-artifacts:/ locations: the "
    "--artifacts-destination of the server that serves it. "
    "[default: $MLTRAIL_ARTIFACTS_DESTINATION]",
)
@pass_state
def export_command(
    state: CliState,
    dest: Path,
    experiments: tuple[str, ...],
    include_deleted: bool,
    artifacts_destination: str | None,
) -> None:
    """Write a snapshot of the current tracking store to the folder DEST: Parquet tables
    (experiments, runs, params, tags, metrics in long form, models, versions), the
    artifacts, and manifest.json. Restore it with `mltrail import mltrail DEST`."""
    from mltrail.config import load_settings
    from mltrail.transfer.errors import TransferFailed
    from mltrail.transfer.export import Exporter, ExportOptions
    from mltrail.transfer.progress import Progress

    settings = load_settings()
    _require_pyarrow("mltrail export")
    source = _store_source(
        state.resolved_uri(),
        settings=settings,
        artifacts=artifacts_destination or settings.artifacts_destination.strip() or None,
    )
    try:
        report = Exporter(
            source,
            dest,
            options=ExportOptions(experiments=tuple(experiments), include_deleted=include_deleted),
            progress=Progress(),
        ).run()
    finally:
        source.close()
    click.echo(f"Exported {source.label} to {report.dest}")
    for name, value in report.counts.items():
        click.echo(f"  {name:<20}{value:>14,}")
    for note in report.notes:
        click.echo(f"  - {note}")
    if report.problems:
        click.echo("Problems:")
        for problem in report.problems:
            click.echo(f"  - {problem}")
        raise TransferFailed(f"the snapshot lacks {len(report.problems)} item(s) (listed above)")


def _require_pyarrow(command: str) -> None:
    import importlib.util

    from mltrail.errors import ConfigurationError

    if importlib.util.find_spec("pyarrow") is None:
        raise ConfigurationError(
            f"{command} writes and reads Parquet, which needs pyarrow: "
            "pip install 'mltrail[parquet]'"
        )


def _store_source(uri: str, *, settings: Settings, artifacts: str | None) -> Source:
    from mltrail.uris import parse_tracking_uri

    target = parse_tracking_uri(uri)
    if target.kind == "rest":
        from mltrail.transfer.sources.mlflow_rest import MlflowRestSource

        # mltrail serves MLflow's REST API too; its own credentials apply.
        as_client = settings.with_overrides(
            mlflow_tracking_username=settings.tracking_username,
            mlflow_tracking_password=settings.tracking_password,
            mlflow_tracking_token=settings.tracking_token,
            mlflow_tracking_insecure_tls=settings.tracking_insecure_tls,
        )
        source = MlflowRestSource(target.uri, settings=as_client)
        source.label = f"mltrail server {target.uri}"
        return source
    from mltrail.transfer.sources.mltrail_sql import MltrailSqlSource

    return MltrailSqlSource(
        target.db_uri,
        settings=settings,
        store_root=target.default_artifact_root,
        artifacts_root=artifacts,
        label=f"mltrail store {target.uri}",
    )
