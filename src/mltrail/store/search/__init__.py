"""The search grammar of mltrail (MLflow's filter and order_by syntax) compiled to SQL.

``run_search_query`` and ``experiment_search_query`` parse a filter string and a list
of order_by strings and return a SQLAlchemy SELECT of the matching ids, with every
value bound as a parameter. A filter or order_by that does not parse raises
:class:`mltrail.errors.MalformedFilter` pointing at the offending character.
"""

from __future__ import annotations

from mltrail.store.search.compile_experiments import experiment_search_query
from mltrail.store.search.compile_runs import run_search_query
from mltrail.store.search.grammar import EXPERIMENTS, RUNS, Clause, Comparator, Entity, OrderKey
from mltrail.store.search.parser import parse_filter, parse_order_by, parse_order_by_list

__all__ = [
    "EXPERIMENTS",
    "RUNS",
    "Clause",
    "Comparator",
    "Entity",
    "OrderKey",
    "experiment_search_query",
    "parse_filter",
    "parse_order_by",
    "parse_order_by_list",
    "run_search_query",
]
