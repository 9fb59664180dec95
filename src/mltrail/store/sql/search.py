"""Paged searches: ids from the search grammar's query, then whole entities in batches."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import Connection

from mltrail.entities import Experiment, PagedList, Run, ViewType
from mltrail.paging import decode_token, encode_token
from mltrail.store.sql import experiments as exps
from mltrail.store.sql import run_pages

if TYPE_CHECKING:
    from mltrail.store.search.compile_runs import RunSearch


def search_runs(
    conn: Connection,
    experiment_ids: Sequence[str],
    *,
    filter_string: str,
    view_type: ViewType,
    max_results: int,
    order_by: Sequence[str],
    page_token: str | None,
) -> PagedList[Run]:
    from mltrail.store.search.compile_runs import RunSearch

    offset = decode_token(page_token)
    ids = [exps.parse_experiment_id(e) for e in experiment_ids]
    search = RunSearch(
        experiment_ids=ids, filter_string=filter_string, view_type=view_type, order_by=order_by
    )
    wanted = offset + max_results + 1
    first = None
    if conn.dialect.name == "sqlite":
        first = _sqlite_join_order(conn, search, wanted=wanted)
    query = search.query(
        limit=max_results + 1, offset=offset, first=first, columns=run_pages.INFO_COLUMNS
    )
    infos = [run_pages.info_of(row) for row in conn.execute(query)]
    has_more = len(infos) > max_results
    page = run_pages.runs_with_data(conn, infos[:max_results])
    return PagedList(page, encode_token(offset + max_results) if has_more else None)


# How far the probe counts each side: enough to tell a selective filter from the runs of an
# experiment, for a fraction of a millisecond (index entries only).
PROBE_CAP = 10_000


def _sqlite_join_order(conn: Connection, search: RunSearch, *, wanted: int) -> str | None:
    """The outer loop of a filtered search on SQLite: the side that visits the fewest rows.

    SQLite's planner knows no per-value counts: it can start the search of a 100-run
    experiment from a param value that 50,000 runs of other experiments share. The probe
    counts each side (the runs up to PROBE_CAP, each filter up to the runs' count). The
    matches are estimated as a planner would, each filter keeping its share of the runs
    independently of the others. A side whose index yields the requested order stops
    after ``wanted`` matches, visiting about ``count * wanted / matches`` rows; any other
    side visits all its rows. Ties go to the runs.
    """
    from mltrail.store.search.compile_runs import RUNS_FIRST

    probe = search.probe(cap=PROBE_CAP)
    if probe is None:
        return None
    counts: dict[str, int] = conn.execute(probe).one()._asdict()
    runs = max(1, counts[RUNS_FIRST])
    matches = float(runs)
    for side, rows in counts.items():
        if side != RUNS_FIRST:
            matches *= min(1.0, rows / runs)
    ordered = search.ordered_side()

    def cost(side: str) -> float:
        rows = counts[side]
        return rows * min(1.0, wanted / max(1.0, matches)) if side == ordered else rows

    best = min((s for s in counts if s != RUNS_FIRST), key=cost)
    return best if cost(best) < cost(RUNS_FIRST) else RUNS_FIRST


def search_experiments(
    conn: Connection,
    *,
    view_type: ViewType,
    max_results: int,
    filter_string: str,
    order_by: Sequence[str],
    page_token: str | None,
    readable_by: tuple[int, int] | None = None,
) -> PagedList[Experiment]:
    from mltrail.store.search import experiment_search_query

    offset = decode_token(page_token)
    query = experiment_search_query(
        filter_string=filter_string,
        view_type=view_type,
        order_by=order_by,
        limit=max_results + 1,
        offset=offset,
        readable_by=readable_by,
    )
    ids = [int(e) for e in conn.execute(query).scalars()]
    has_more = len(ids) > max_results
    page = exps.load_experiments(conn, ids[:max_results])
    return PagedList(page, encode_token(offset + max_results) if has_more else None)
