"""The fluent API's searches: experiments and runs, every page (or up to ``max_results``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal, overload

from mltrail.client.fluent.experiments import active_experiment_id
from mltrail.client.fluent.state import current_backend, current_client
from mltrail.entities import (
    Experiment,
    Run,
    ViewType,
)
from mltrail.errors import (
    InvalidParameterValue,
)

if TYPE_CHECKING:
    import pandas as pd


_RUNS_PAGE_SIZE = 1000


def search_experiments(
    view_type: ViewType | int | str = ViewType.ACTIVE_ONLY,
    max_results: int | None = None,
    filter_string: str | None = None,
    order_by: Sequence[str] | None = None,
) -> list[Experiment]:
    """Every matching experiment (all pages), or at most ``max_results``."""
    client = current_client()
    found: list[Experiment] = []
    token: str | None = None
    while max_results is None or len(found) < max_results:
        want = (
            _RUNS_PAGE_SIZE
            if max_results is None
            else min(_RUNS_PAGE_SIZE, max_results - len(found))
        )
        page = client.search_experiments(view_type, want, filter_string, order_by, token)
        found.extend(page)
        token = page.token
        if not token:
            break
    return found


@overload
def search_runs(
    experiment_ids: Sequence[str] | None = ...,
    filter_string: str = ...,
    run_view_type: ViewType | int | str = ...,
    max_results: int = ...,
    order_by: Sequence[str] | None = ...,
    output_format: Literal["pandas"] = ...,
    search_all_experiments: bool = ...,
    experiment_names: Sequence[str] | None = ...,
) -> pd.DataFrame: ...


@overload
def search_runs(
    experiment_ids: Sequence[str] | None = ...,
    filter_string: str = ...,
    run_view_type: ViewType | int | str = ...,
    max_results: int = ...,
    order_by: Sequence[str] | None = ...,
    *,
    output_format: Literal["list"],
    search_all_experiments: bool = ...,
    experiment_names: Sequence[str] | None = ...,
) -> list[Run]: ...


def search_runs(
    experiment_ids: Sequence[str] | None = None,
    filter_string: str = "",
    run_view_type: ViewType | int | str = ViewType.ACTIVE_ONLY,
    max_results: int = 100000,
    order_by: Sequence[str] | None = None,
    output_format: str = "pandas",
    search_all_experiments: bool = False,
    experiment_names: Sequence[str] | None = None,
) -> pd.DataFrame | list[Run]:
    """Runs matching ``filter_string`` as a DataFrame (MLflow's columns) or a list of Run."""
    if output_format not in ("pandas", "list"):
        raise InvalidParameterValue(
            f"Unsupported output format: {output_format}. Supported string values are "
            "'pandas' or 'list'"
        )
    ids = _search_experiment_ids(experiment_ids, experiment_names, search_all_experiments)
    runs = _all_runs(ids, filter_string, run_view_type, max_results, order_by) if ids else []
    if output_format == "list":
        return runs
    from mltrail.client.frames import runs_to_frame

    return runs_to_frame(runs)


def _search_experiment_ids(
    experiment_ids: Sequence[str] | None,
    experiment_names: Sequence[str] | None,
    search_all_experiments: bool,
) -> list[str]:
    if experiment_ids and experiment_names:
        raise InvalidParameterValue(
            "Only experiment_ids or experiment_names can be used, but not both"
        )
    if experiment_ids:
        return (
            [experiment_ids]
            if isinstance(experiment_ids, str)
            else [str(i) for i in experiment_ids]
        )
    if experiment_names:
        backend = current_backend()
        found = (backend.get_experiment_by_name(n) for n in experiment_names)
        return [e.experiment_id for e in found if e is not None]
    if search_all_experiments:
        return [e.experiment_id for e in search_experiments(ViewType.ACTIVE_ONLY)]
    return [active_experiment_id()]


def _all_runs(
    ids: list[str],
    filter_string: str,
    run_view_type: ViewType | int | str,
    max_results: int,
    order_by: Sequence[str] | None,
) -> list[Run]:
    client = current_client()
    runs: list[Run] = []
    token: str | None = None
    while len(runs) < max_results:
        want = min(_RUNS_PAGE_SIZE, max_results - len(runs))
        page = client.search_runs(ids, filter_string, run_view_type, want, order_by, token)
        runs.extend(page)
        token = page.token
        if not token:
            break
    return runs
