"""What the list commands share: the ``--view`` option and reading every page of a search."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from mltrail.entities import PagedList, ViewType

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

_VIEWS = {"active": "ACTIVE_ONLY", "deleted": "DELETED_ONLY", "all": "ALL"}
# The stores answer at most this many items per page; larger limits page.
PAGE_SIZE = 1000


def view_option(what: str) -> Callable[[F], F]:
    """``--view active|deleted|all`` for a command that lists ``what`` (e.g. "runs")."""
    return click.option(
        "--view",
        type=click.Choice(sorted(_VIEWS)),
        default="active",
        show_default=True,
        help=f"Which {what} to list: active ones, deleted ones, or all.",
    )


def view_type(view: str) -> ViewType:
    """The ViewType a ``--view`` choice stands for."""
    from mltrail.entities import ViewType

    return ViewType[_VIEWS[view]]


def read_pages(
    fetch: Callable[[int, str | None], PagedList[T]], *, limit: int | None = None
) -> list[T]:
    """Every item ``fetch(max_results, page_token)`` pages through, up to ``limit`` of them."""
    found: list[T] = []
    token: str | None = None
    while limit is None or len(found) < limit:
        size = PAGE_SIZE if limit is None else min(PAGE_SIZE, limit - len(found))
        page = fetch(size, token)
        found.extend(page)
        token = page.token
        if not token:
            break
    return found
