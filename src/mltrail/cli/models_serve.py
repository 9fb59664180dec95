"""``mltrail models serve`` and ``mltrail models predict`` (added to the ``models`` group).

``serve`` runs a scoring server (MLflow's scoring protocol) for one model; ``predict`` runs a
file through it. Each imports what it needs when it runs, so ``mltrail models --help`` stays
fast.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from mltrail.cli.context import CliState, pass_state

if TYPE_CHECKING:
    from mltrail.client.tracking_client import TrackingClient

F = TypeVar("F", bound=Callable[..., Any])

ENV_MANAGERS = ("local",)


def _env_manager(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    if value not in ENV_MANAGERS:
        from mltrail.errors import ConfigurationError

        raise ConfigurationError(
            f"--env-manager {value!r} is not available: mltrail does not build environments "
            "(no conda, virtualenv or uv). It serves in the running environment "
            "(--env-manager local) and says at start-up which library versions the model "
            "recorded and which differ here"
        )
    return value


def model_options(func: F) -> F:
    """Options shared by every command that loads a model."""
    options = [
        click.option(
            "--model-uri",
            "-m",
            required=True,
            metavar="URI",
            help="runs:/<run_id>/<path>, models:/<model_id>, models:/<name>/<version>, "
            "models:/<name>@<alias>, models:/<name>/latest, or a local model folder.",
        ),
        click.option(
            "--env-manager",
            default="local",
            show_default=True,
            callback=_env_manager,
            help="Only 'local': the running environment (mltrail builds no environments).",
        ),
        click.option(
            "--allow-pickle",
            is_flag=True,
            help="Load a model saved with pickle or cloudpickle (it can run any code: only for "
            "models from a source you trust).",
        ),
        click.option(
            "--trusted-type",
            "trusted_types",
            multiple=True,
            metavar="TYPE",
            help="A type a skops-saved model may contain beyond the known-safe ones (repeat).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _client_factory(state: CliState) -> Callable[[], TrackingClient]:
    def make() -> TrackingClient:
        from mltrail.client.tracking_client import TrackingClient

        return TrackingClient(tracking_uri=state.resolved_uri())

    return make


@click.command("serve")
@model_options
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", "-p", type=int, default=5000, show_default=True, help="Port to listen on.")
@click.option("--workers", "-w", type=int, default=1, show_default=True, help="Worker processes.")
@click.option(
    "--timeout",
    "-t",
    type=float,
    default=60.0,
    show_default=True,
    help="Seconds a prediction may take before the request fails with 504 (0: no limit).",
)
@click.option(
    "--max-batch-rows",
    type=int,
    default=100_000,
    show_default=True,
    help="Rows one request may hold (0: no limit).",
)
@click.option(
    "--max-body-size",
    type=int,
    default=64 * 1024 * 1024,
    show_default=True,
    help="Bytes one request body may hold (0: no limit).",
)
@click.option(
    "--watch",
    is_flag=True,
    help="Follow the alias of -m models:/Name@alias: load the version it names when it "
    "changes, and swap to it without dropping a request.",
)
@click.option(
    "--watch-interval",
    type=float,
    default=30.0,
    show_default=True,
    help="Seconds between two looks at the alias.",
)
@click.option(
    "--log-to-run",
    is_flag=True,
    help="Log per-minute prediction statistics (rows, output mean and quantiles) to a "
    "monitoring run in the tracking store.",
)
@click.option(
    "--monitor-experiment",
    default=None,
    metavar="NAME",
    help="Experiment of the monitoring run. [default: the model's training run's experiment]",
)
@pass_state
def serve_command(
    state: CliState,
    model_uri: str,
    env_manager: str,
    allow_pickle: bool,
    trusted_types: tuple[str, ...],
    host: str,
    port: int,
    workers: int,
    timeout: float,
    max_batch_rows: int,
    max_body_size: int,
    watch: bool,
    watch_interval: float,
    log_to_run: bool,
    monitor_experiment: str | None,
) -> None:
    """Serve a model over HTTP with MLflow's scoring protocol.

    POST /invocations takes JSON (dataframe_split, dataframe_records, instances, inputs,
    params) or CSV and answers {"predictions": ...}; GET /ping, /health, /version and
    /metrics (Prometheus) report on the server.
    """
    from mltrail.serving.app import ServeOptions
    from mltrail.serving.logs import configure_logging
    from mltrail.serving.runner import ServeConfig, serve

    configure_logging()
    config = ServeConfig(
        model_uri=model_uri,
        host=host,
        port=port,
        workers=workers,
        options=ServeOptions(
            max_batch_rows=max_batch_rows, max_body_bytes=max_body_size, timeout=timeout
        ),
        allow_pickle=allow_pickle,
        trusted_types=trusted_types,
        watch=watch,
        watch_interval=watch_interval,
        log_to_run=log_to_run,
        monitor_experiment=monitor_experiment,
    )
    serve(config, make_client=_client_factory(state))


@click.command("predict")
@model_options
@click.option(
    "--input-path",
    "-i",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="A .csv, .parquet, .json (a list of records) or .jsonl file.",
)
@click.option(
    "--output-path",
    "-o",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where the predictions go: .csv, .parquet, .json or .jsonl.",
)
@click.option(
    "--chunk-rows",
    type=int,
    default=10_000,
    show_default=True,
    help="Rows read, predicted and written at a time.",
)
@pass_state
def predict_command(
    state: CliState,
    model_uri: str,
    env_manager: str,
    allow_pickle: bool,
    trusted_types: tuple[str, ...],
    input_path: Path,
    output_path: Path,
    chunk_rows: int,
) -> None:
    """Predict a file in chunks (memory stays flat in the file's size)."""
    from mltrail.serving.batch import file_format, predict_file
    from mltrail.serving.loading import is_registry_uri, load_served_model
    from mltrail.serving.logs import configure_logging

    configure_logging()
    file_format(input_path, role="input")
    file_format(output_path, role="output")
    client = _client_factory(state)() if is_registry_uri(model_uri) else None
    served = load_served_model(
        model_uri, client=client, allow_pickle=allow_pickle, trusted_types=trusted_types
    )
    result = predict_file(served, input_path, output_path, chunk_rows=chunk_rows)
    click.echo(f"Predicted {result.rows} rows of {input_path} into {output_path}", err=True)
