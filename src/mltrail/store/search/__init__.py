r"""The search grammar of mltrail (MLflow's filter and order_by syntax) compiled to SQL.

``run_search_query`` and ``experiment_search_query`` parse a filter string and a list
of order_by strings and return a SQLAlchemy SELECT of the matching ids, with every
value bound as a parameter. A filter or order_by that does not parse raises
:class:`mltrail.errors.MalformedFilter` whose ``position`` is the offset of the
offending character and whose message says what was expected there.

Filter
    ``clause [AND clause ...]`` (AND in any case; OR and parentheses are rejected).
    A clause is ``<entity>.<key> <comparator> <value>``. Keys made of letters,
    digits and ``_ - . / :`` need no quotes (``metrics.train/loss``); any other key
    is written in backquotes or double quotes (``tags.`my key```, ``params."a b"``).
    Strings are single- or double-quoted; a quote inside is doubled or
    backslash-escaped (``'it''s'``, ``'it\'s'``), and ``\\`` is one backslash.
    Numbers are written bare: ``1``, ``-0.5``, ``1e-3``.

Runs
    ============================================  ==========================================
    ``metrics.`` / ``metric.``                     ``= != < <= > >=`` number, ``IS [NOT] NULL``
    ``params.`` / ``param.`` / ``parameter[s].``   ``= != LIKE ILIKE`` string,
                                                   ``IN / NOT IN ('a', 'b')``, ``IS [NOT] NULL``
    ``tags.`` / ``tag.``                           as params
    ``attributes.`` / ``attribute.`` / ``attr.``   ``run_id run_name status user_id
    / ``run.`` / no prefix                         artifact_uri``: ``= != LIKE ILIKE IN NOT IN``;
                                                   ``start_time end_time duration``:
                                                   ``= != < <= > >=`` number
    ============================================  ==========================================

    ``created`` is an alias of ``start_time`` and ``run name`` of ``run_name``;
    ``duration`` is ``end_time - start_time`` in milliseconds (unset while a run has
    no end time). ``datasets.`` is rejected. Metrics compare their latest value.
    A metric, param or tag clause only matches runs that have the key (also for
    ``!=`` and ``NOT IN``); ``IS NULL`` matches runs without it. NaN metrics match
    no comparison; infinities compare as the largest/smallest numbers. A time
    attribute that is unset (a running run's ``end_time``) matches no comparison.

Experiments
    ``name`` (``= != LIKE ILIKE IN NOT IN``), ``experiment_id`` (``= != IN NOT IN``,
    ids quoted or not), ``creation_time`` and ``last_update_time`` (numbers), and
    ``tags.<key>`` as for runs. ``attributes.`` / ``attribute.`` / ``attr.`` prefixes
    are optional.

Strings
    ``=``, ``!=`` and ``IN`` compare exact code points on every database (also on
    MySQL/MariaDB, whose usual collations ignore case and trailing spaces). ``LIKE``
    is case-sensitive, ``ILIKE`` case-insensitive; ``%`` is any run of characters,
    ``_`` one character, and a backslash makes the next character literal
    (``LIKE '100\%'`` matches ``100%`` only). On SQLite ILIKE folds ASCII
    letters only.

order_by
    Each entry is ``<entity>.<key> [ASC|DESC]`` (ASC by default) with the same
    entities and keys; a bare name is an attribute (runs also accept
    ``experiment_id``). Entries must name different keys. Runs (experiments)
    lacking an ordered metric, param or tag come last in both directions; NaN
    metrics come after numbers. Strings order by code point (``'B' < 'a'``) on
    every database. Ties are broken by ``start_time DESC, run_id DESC`` for runs
    (also the default order) and by ``experiment_id`` for experiments (whose
    default order is ``creation_time DESC, experiment_id``).
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
