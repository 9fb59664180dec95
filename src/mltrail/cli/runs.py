"""``mltrail runs``: list, show, delete and restore runs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from mltrail.cli.context import CliState, pass_state
from mltrail.cli.experiments import find_experiment
from mltrail.cli.listing import read_pages, view_option, view_type
from mltrail.cli.output import (
    echo_json,
    format_duration,
    format_number,
    format_time,
    output_option,
    render_pairs,
    render_table,
)

if TYPE_CHECKING:
    from mltrail.entities import MetricSummary, Run


@click.group()
def runs() -> None:
    """List, show, delete and restore runs."""


@runs.command("list")
@click.option(
    "--experiment",
    "-e",
    "experiment",
    required=True,
    metavar="NAME_OR_ID",
    help="The experiment whose runs to list (its name, or its id).",
)
@click.option(
    "--filter",
    "filter_string",
    default="",
    metavar="EXPR",
    help="A search filter, e.g. \"metrics.rmse < 0.5 and params.alpha = '0.1'\".",
)
@click.option(
    "--order-by",
    multiple=True,
    metavar="CLAUSE",
    help="Sort clause, e.g. 'metrics.rmse ASC' (repeat for more). Default: newest first.",
)
@click.option(
    "--max-results",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="At most this many runs.",
)
@view_option("runs")
@output_option
@pass_state
def list_runs(
    state: CliState,
    experiment: str,
    filter_string: str,
    order_by: tuple[str, ...],
    max_results: int,
    view: str,
    output_format: str,
) -> None:
    """List an experiment's runs with their latest metric values."""
    client = state.client()
    experiment_id = find_experiment(client, experiment).experiment_id
    found = read_pages(
        lambda size, token: client.search_runs(
            [experiment_id],
            filter_string=filter_string,
            run_view_type=view_type(view),
            max_results=size,
            order_by=list(order_by) or None,
            page_token=token,
        ),
        limit=max_results,
    )
    if output_format == "json":
        echo_json(found)
        return
    click.echo(runs_table(found))


def runs_table(found: list[Run]) -> str:
    """Run id (full, people copy it), name, status, start, duration, then one column per metric."""
    metric_keys = sorted({key for run in found for key in run.data.metrics})
    headers = ["run id", "name", "status", "start time", "duration", *metric_keys]
    rows = []
    for run in found:
        info = run.info
        metrics = run.data.metrics
        rows.append(
            [
                info.run_id,
                info.run_name,
                info.status,
                format_time(info.start_time),
                format_duration(info.start_time, info.end_time),
                *(format_number(metrics[k]) if k in metrics else "-" for k in metric_keys),
            ]
        )
    return render_table(headers, rows)


@runs.command("show")
@click.argument("run_id")
@output_option
@pass_state
def show_run(state: CliState, run_id: str, output_format: str) -> None:
    """Show one run: its info, params, metrics (latest, min, max) and tags."""
    client = state.client()
    run = client.get_run(run_id)
    # The explicit client mirrors MlflowClient, which has no summaries; the backend does.
    summaries = client.backend.get_metric_summaries(run_id)
    if output_format == "json":
        echo_json(run_document(run, summaries))
        return
    click.echo(run_text(run, summaries))


def run_document(run: Run, summaries: list[MetricSummary]) -> dict[str, Any]:
    by_key = {s.key: s for s in summaries}
    metrics = []
    for key in sorted(set(run.data.metrics) | set(by_key)):
        summary = by_key.get(key)
        if summary is None:
            metrics.append({"key": key, "value": run.data.metrics[key]})
            continue
        metrics.append(
            {
                "key": key,
                "value": summary.value,
                "step": summary.step,
                "timestamp": summary.timestamp,
                "min": summary.min,
                "max": summary.max,
                "count": summary.count,
            }
        )
    return {
        "info": run.info,
        "params": dict(sorted(run.data.params.items())),
        "metrics": metrics,
        "tags": dict(sorted(run.data.tags.items())),
    }


def run_text(run: Run, summaries: list[MetricSummary]) -> str:
    info = run.info
    sections = [
        render_pairs(
            [
                ("run id", info.run_id),
                ("name", info.run_name),
                ("experiment id", info.experiment_id),
                ("status", info.status),
                ("lifecycle stage", info.lifecycle_stage),
                ("user", info.user_id),
                ("start time", format_time(info.start_time)),
                ("end time", format_time(info.end_time)),
                ("duration", format_duration(info.start_time, info.end_time)),
                ("artifact uri", info.artifact_uri),
            ]
        )
    ]
    params = sorted(run.data.params.items())
    sections.append("Params\n" + (render_table(("key", "value"), params) if params else "(none)"))
    document = run_document(run, summaries)
    metric_rows = [
        (
            m["key"],
            format_number(m["value"]),
            str(m.get("step", "-")),
            format_number(m.get("min")),
            format_number(m.get("max")),
            str(m.get("count", "-")),
        )
        for m in document["metrics"]
    ]
    sections.append(
        "Metrics\n"
        + (
            render_table(("key", "latest", "step", "min", "max", "count"), metric_rows)
            if metric_rows
            else "(none)"
        )
    )
    tags = sorted(run.data.tags.items())
    sections.append("Tags\n" + (render_table(("key", "value"), tags) if tags else "(none)"))
    return "\n\n".join(sections)


@runs.command("compare")
@click.argument("run_ids", nargs=-1, required=True, metavar="RUN_ID RUN_ID...")
@click.option("--only-diff", is_flag=True, help="Only the params and metrics that differ.")
@output_option
@pass_state
def compare_runs(
    state: CliState, run_ids: tuple[str, ...], only_diff: bool, output_format: str
) -> None:
    """Compare runs side by side: one column per run, one row per param and metric.

    Rows whose values differ are marked with '*'. The dashboard's /compare page shows the
    same runs with charts.
    """
    if len(run_ids) < 2:
        raise click.UsageError("Give at least two run ids to compare")
    client = state.client()
    found = [client.get_run(run_id) for run_id in dict.fromkeys(run_ids)]
    rows = compare_rows(found)
    if only_diff:
        rows = [row for row in rows if row["differs"]]
    if output_format == "json":
        echo_json({"runs": [r.info for r in found], "rows": rows})
        return
    headers = ["", "KIND", "KEY", *(r.info.run_name or r.info.run_id[:8] for r in found)]
    table = [
        (
            "*" if row["differs"] else "",
            row["kind"],
            row["key"],
            *(_cell(v) for v in row["values"]),
        )
        for row in rows
    ]
    ids = render_pairs([(r.info.run_name or r.info.run_id[:8], r.info.run_id) for r in found])
    body = (
        render_table(headers, table)
        if table
        else "(nothing differs)"
        if only_diff
        else "(no params or metrics)"
    )
    click.echo(ids + "\n\n" + body)


def _cell(value: object) -> str:
    if value is None:
        return "-"
    return format_number(value) if isinstance(value, float) else str(value)


def compare_rows(found: list[Run]) -> list[dict[str, Any]]:
    """Params then metrics (latest values), each with every run's value and whether they differ."""
    rows: list[dict[str, Any]] = []
    for kind in ("params", "metrics"):
        keys = sorted({key for run in found for key in getattr(run.data, kind)})
        for key in keys:
            values = [getattr(run.data, kind).get(key) for run in found]
            distinct = {repr(v) for v in values}
            rows.append(
                {"kind": kind[:-1], "key": key, "values": values, "differs": len(distinct) > 1}
            )
    return rows


@runs.command("delete")
@click.argument("run_id")
@pass_state
def delete_run(state: CliState, run_id: str) -> None:
    """Delete a run (it can be restored until the store is cleaned up)."""
    state.client().delete_run(run_id)
    click.echo(f"Deleted run {run_id}")


@runs.command("restore")
@click.argument("run_id")
@pass_state
def restore_run(state: CliState, run_id: str) -> None:
    """Restore a deleted run."""
    state.client().restore_run(run_id)
    click.echo(f"Restored run {run_id}")
