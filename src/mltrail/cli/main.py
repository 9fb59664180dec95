"""The ``mltrail`` command: a click group whose sub-commands are imported on demand.

Each command group lives in its own module and is imported only when it runs (or when
its own help is shown), so ``mltrail --help`` stays fast: it imports neither
SQLAlchemy nor pandas nor numpy. Every :class:`mltrail.errors.MltrailError` a command
raises is turned here, in one place, into a short message on stderr and an exit code:
2 for bad input (a malformed filter, an invalid value or URI), 1 for everything else
(missing experiment or run, wrong state, database unavailable).
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any, NamedTuple

import click

from mltrail.cli.context import CliState
from mltrail.errors import (
    BadRequest,
    ConfigurationError,
    InvalidParameterValue,
    MltrailError,
    Unauthenticated,
)
from mltrail.version import __version__

EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2


class _Entry(NamedTuple):
    module: str
    attribute: str
    short_help: str


# The short help is repeated here so that listing the commands imports none of them.
_COMMANDS: dict[str, _Entry] = {
    "experiments": _Entry(
        "mltrail.cli.experiments", "experiments", "List, create, delete and restore experiments."
    ),
    "runs": _Entry("mltrail.cli.runs", "runs", "List, show, compare, delete and restore runs."),
    "db": _Entry("mltrail.cli.db", "db", "Create or upgrade a tracking database schema."),
    "server": _Entry(
        "mltrail.cli.server", "server_command", "Run a tracking server for a team (API, UI)."
    ),
    "ui": _Entry("mltrail.cli.server", "ui_command", "Open the web UI on a local store."),
    "artifacts": _Entry("mltrail.cli.artifacts", "artifacts", "List, download, upload artifacts."),
    "models": _Entry(
        "mltrail.cli.models", "models", "List, register, alias, download and serve models."
    ),
    "gc": _Entry("mltrail.cli.gc", "gc_command", "Permanently remove deleted runs, experiments."),
    "sync": _Entry("mltrail.cli.sync", "sync_command", "Upload the offline spool to the server."),
    "users": _Entry("mltrail.cli.users", "users", "Manage the server's users (in its database)."),
    "groups": _Entry("mltrail.cli.groups", "groups", "Manage groups of users (grants to teams)."),
    "tokens": _Entry("mltrail.cli.tokens", "tokens", "Create, list and revoke API tokens."),
    "permissions": _Entry(
        "mltrail.cli.permissions", "permissions", "Grant and revoke experiment/model access."
    ),
    "import": _Entry(
        "mltrail.cli.transfer", "import_group", "Import from MLflow or an mltrail snapshot."
    ),
    "export": _Entry(
        "mltrail.cli.transfer", "export_command", "Export a store as a snapshot (Parquet)."
    ),
}


def _available(entry: _Entry) -> bool:
    try:
        return importlib.util.find_spec(entry.module) is not None
    except ImportError:
        return False


def exit_code_for(exc: MltrailError) -> int:
    if isinstance(exc, InvalidParameterValue | ConfigurationError | BadRequest):
        return EXIT_BAD_INPUT
    return EXIT_FAILURE


class LazyGroup(click.Group):
    """A group that imports a sub-command's module only when that command is needed."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = set(super().list_commands(ctx))
        names.update(name for name, entry in _COMMANDS.items() if _available(entry))
        return sorted(names)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            return command
        entry = _COMMANDS.get(cmd_name)
        if entry is None or not _available(entry):
            return None
        found = getattr(importlib.import_module(entry.module), entry.attribute)
        if not isinstance(found, click.Command):
            raise TypeError(f"{entry.module}.{entry.attribute} is not a click command")
        return found

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            entry = _COMMANDS.get(name)
            if entry is not None and name not in self.commands:
                rows.append((name, entry.short_help))
                continue
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(formatter.width)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except MltrailError as exc:
            if _debug(ctx):
                raise
            click.echo(f"Error: {exc.message}{_hint(exc)}", err=True)
            ctx.exit(exit_code_for(exc))
        except Exception as exc:
            # An error nobody anticipated still deserves one readable line; --debug
            # shows the traceback for a bug report.
            if _debug(ctx):
                raise
            first_line = (str(exc).strip().splitlines() or [""])[0]
            click.echo(
                f"Error: unexpected {type(exc).__name__}: {first_line} "
                "(run with --debug for the traceback)",
                err=True,
            )
            ctx.exit(EXIT_FAILURE)


def _hint(exc: MltrailError) -> str:
    if isinstance(exc, Unauthenticated):
        return (
            ". Give the server your credentials: MLTRAIL_TRACKING_USERNAME and "
            "MLTRAIL_TRACKING_PASSWORD, or MLTRAIL_TRACKING_TOKEN (the MLFLOW_TRACKING_* "
            "variables work too)"
        )
    return ""


def _debug(ctx: click.Context) -> bool:
    state = ctx.find_object(CliState)
    return bool(state and state.debug)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--tracking-uri",
    metavar="URI",
    default=None,
    help=(
        "Where runs are stored: a folder, sqlite:///file.db, postgresql://, mysql:// or "
        "http(s):// server. Default: $MLTRAIL_TRACKING_URI, else the folder ./mltrail."
    ),
)
@click.option("--debug", is_flag=True, help="Show the full traceback when a command fails.")
@click.version_option(__version__, "--version", prog_name="mltrail")
@click.pass_context
def cli(ctx: click.Context, tracking_uri: str | None, debug: bool) -> None:
    """mltrail: track machine-learning experiments, runs, metrics and models."""
    ctx.obj = CliState(tracking_uri=tracking_uri, debug=debug)


def main() -> None:
    cli(prog_name="mltrail")


if __name__ == "__main__":
    main()
