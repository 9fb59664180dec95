"""Paged searches: ids from the search grammar's query, then whole entities in batches."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection

from mltrail.entities import Experiment, PagedList, Run, ViewType
from mltrail.paging import decode_token, encode_token
from mltrail.store.sql import experiments as exps
from mltrail.store.sql import runs as runs_mod


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
    from mltrail.store.search import run_search_query

    offset = decode_token(page_token)
    ids = [exps.parse_experiment_id(e) for e in experiment_ids]
    query = run_search_query(
        experiment_ids=ids,
        filter_string=filter_string,
        view_type=view_type,
        order_by=order_by,
        limit=max_results + 1,
        offset=offset,
    )
    run_ids = [str(r) for r in conn.execute(query).scalars()]
    has_more = len(run_ids) > max_results
    page = runs_mod.load_runs(conn, run_ids[:max_results])
    return PagedList(page, encode_token(offset + max_results) if has_more else None)


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
