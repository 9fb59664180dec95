"""String comparisons that mean the same thing on SQLite, PostgreSQL and MySQL/MariaDB.

The search grammar promises exact, case-sensitive ``=``, ``!=``, ``IN`` and ``LIKE``
and code-point ordering of strings. The three databases disagree by default:
SQLite's LIKE ignores ASCII case, MySQL's usual ``*_ci`` collations ignore case (and
trailing spaces) even for ``=``, and PostgreSQL orders by the database locale. The
constructs here compile to the right SQL for the dialect that executes them, so the
query builders stay dialect-free.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import operators
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import BindParameter, ColumnElement, UnaryExpression
from sqlalchemy.sql.selectable import Join
from sqlalchemy.sql.visitors import InternalTraversal

_ESCAPE = "\\"
_GLOB_SPECIAL = frozenset("*?[")
# Comparing under a binary collation needs the text in a known character set;
# CONVERT is a no-op for utf8mb4 columns and makes other character sets work too.
_MYSQL_BIN = "utf8mb4_bin"


def normalize_like_pattern(pattern: str) -> str:
    """Make a trailing lone backslash literal (PostgreSQL rejects it as a dangling escape)."""
    trailing = len(pattern) - len(pattern.rstrip(_ESCAPE))
    return pattern + _ESCAPE if trailing % 2 else pattern


def like_to_glob(pattern: str) -> str:
    """Translate a LIKE pattern (``%``, ``_``, backslash escapes) to a case-sensitive GLOB."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == _ESCAPE and i + 1 < n:
            out.append(_glob_literal(pattern[i + 1]))
            i += 2
            continue
        if ch == "%":
            out.append("*")
        elif ch == "_":
            out.append("?")
        else:
            out.append(_glob_literal(ch))
        i += 1
    return "".join(out)


def _glob_literal(ch: str) -> str:
    return f"[{ch}]" if ch in _GLOB_SPECIAL else ch


def _bind(value: str) -> BindParameter[str]:
    return sa.bindparam(None, value, type_=sa.String())


def _expanding(values: Sequence[str]) -> BindParameter[Any]:
    return sa.bindparam(None, list(values), type_=sa.String(), expanding=True)


# The constructs below hold their values as bound parameters and list them, with every
# attribute that shapes their SQL, in ``_traverse_internals``: SQLAlchemy then compiles a
# statement that uses them once per shape and dialect and reuses it with other values
# (compiling a filtered search costs about a millisecond).


class ExactMatch(ColumnElement[bool]):
    """``column = value`` / ``column IN values`` comparing exact code points."""

    _traverse_internals = [
        ("column", InternalTraversal.dp_clauseelement),
        ("each", InternalTraversal.dp_clauseelement_tuple),
        ("all", InternalTraversal.dp_clauseelement),
    ]
    type = sa.Boolean()
    # A predicate, not a boolean column: no "= 1" on SQLite/MySQL, and NOT (...) for negation.
    _is_implicitly_boolean = True

    def __init__(self, column: ColumnElement[Any], values: Sequence[str]) -> None:
        self.column = column
        # One parameter per value, and (for several values) one expanding parameter.
        self.each = tuple(_bind(v) for v in values)
        self.all = _expanding(values) if len(values) > 1 else None


class PrefixIndexedMatch(ExactMatch):
    """An ExactMatch on a column indexed by its first ``prefix`` characters.

    SQLite and PostgreSQL index the expression ``substr(column, 1, prefix)``: the test
    repeats it (with the values cut to the prefix) so that the planner can use the
    index, then compares the whole value. MySQL/MariaDB index a prefix of the column
    itself, which the plain comparison uses.
    """

    _traverse_internals = [
        *ExactMatch._traverse_internals,
        ("prefix", InternalTraversal.dp_plain_obj),
        ("heads", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, column: ColumnElement[Any], values: Sequence[str], *, prefix: int) -> None:
        super().__init__(column, values)
        self.prefix = prefix
        heads = sorted({v[:prefix] for v in values})
        self.heads = _bind(heads[0]) if len(heads) == 1 else _expanding(heads)


class CaseSensitiveLike(ColumnElement[bool]):
    """``column LIKE pattern`` with ``%``/``_`` wildcards, backslash escapes, exact case."""

    _traverse_internals = [
        ("column", InternalTraversal.dp_clauseelement),
        ("pattern", InternalTraversal.dp_clauseelement),
        ("glob", InternalTraversal.dp_clauseelement),
    ]
    type = sa.Boolean()
    # A predicate, not a boolean column: no "= 1" on SQLite/MySQL, and NOT (...) for negation.
    _is_implicitly_boolean = True

    def __init__(self, column: ColumnElement[Any], pattern: str) -> None:
        self.column = column
        like = normalize_like_pattern(pattern)
        self.pattern = _bind(like)
        self.glob = _bind(like_to_glob(like))  # what SQLite runs instead


class BinarySortKey(ColumnElement[Any]):
    """A string column ordered by code point on every database."""

    _traverse_internals = [("column", InternalTraversal.dp_clauseelement)]

    def __init__(self, column: ColumnElement[Any]) -> None:
        self.column = column
        self.type = column.type


class OrderedJoin(Join):
    """An inner join whose left side must be the outer loop.

    SQLite keeps the order of the tables of a ``CROSS JOIN``; other databases get a
    plain ``JOIN`` (their planners order joins from statistics).
    """

    inherit_cache = True


def exact_match(column: ColumnElement[Any], value: str) -> ColumnElement[bool]:
    return ExactMatch(column, (value,))


def exact_in(column: ColumnElement[Any], values: Sequence[str]) -> ColumnElement[bool]:
    return ExactMatch(column, values)


def prefix_indexed_match(
    column: ColumnElement[Any], values: Sequence[str], *, prefix: int
) -> ColumnElement[bool]:
    return PrefixIndexedMatch(column, values, prefix=prefix)


def case_insensitive_like(column: ColumnElement[Any], pattern: str) -> ColumnElement[bool]:
    return column.ilike(normalize_like_pattern(pattern), escape=_ESCAPE)


def _plain_match(element: ExactMatch) -> ColumnElement[bool]:
    if element.all is None:
        return element.column == element.each[0]
    return element.column.in_(element.all)


@compiles(ExactMatch)
def _exact_default(element: ExactMatch, compiler: SQLCompiler, **kw: Any) -> str:
    return f"({compiler.process(_plain_match(element), **kw)})"


@compiles(PrefixIndexedMatch, "postgresql")
def _prefix_indexed(element: PrefixIndexedMatch, compiler: SQLCompiler, **kw: Any) -> str:
    both = sa.and_(_head_match(element), _plain_match(element))
    return f"({compiler.process(both, **kw)})"


@compiles(PrefixIndexedMatch, "sqlite")
def _prefix_indexed_sqlite(element: PrefixIndexedMatch, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite propagates ``value = 'x'`` into the other terms (substr(value, ...) becomes
    # substr('x', ...), a constant), and the index no longer matches. ``+value`` is the
    # same text but no column reference, so nothing is propagated.
    whole: ColumnElement[Any] = UnaryExpression(element.column, operator=operators.custom_op("+"))
    exact = whole.in_(element.all) if element.all is not None else whole == element.each[0]
    return f"({compiler.process(sa.and_(_head_match(element), exact), **kw)})"


def _head_match(element: PrefixIndexedMatch) -> ColumnElement[bool]:
    # Literal numbers: the index is on this very text (see schema.value_prefix).
    head = sa.func.substr(
        element.column, sa.literal_column("1"), sa.literal_column(str(element.prefix))
    )
    return head.in_(element.heads) if element.heads.expanding else head == element.heads


def _mysql_binary(expr: ColumnElement[Any]) -> ColumnElement[Any]:
    return sa.cast(expr, sa.LargeBinary())


@compiles(ExactMatch, "mysql")
@compiles(ExactMatch, "mariadb")
def _exact_mysql(element: ExactMatch, compiler: SQLCompiler, **kw: Any) -> str:
    # The collation-aware test first keeps indexes usable; the binary test then
    # rejects matches that differ in case or trailing spaces.
    binary = _mysql_binary(element.column)
    if element.all is None:
        exact: ColumnElement[bool] = binary == _mysql_binary(element.each[0])
    else:
        exact = binary.in_([_mysql_binary(b) for b in element.each])
    return f"({compiler.process(sa.and_(_plain_match(element), exact), **kw)})"


@compiles(OrderedJoin, "sqlite")
def _ordered_join_sqlite(element: OrderedJoin, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLCompiler.visit_join with another keyword (each side rendered once: binds register
    # as they are rendered).
    kw.pop("asfrom", None)
    from_linter = kw.get("from_linter")
    if from_linter:
        from_linter.edges.update(
            itertools.product(element.left._from_objects, element.right._from_objects)
        )
    assert element.onclause is not None  # built with one
    left = element.left._compiler_dispatch(compiler, asfrom=True, **kw)
    right = element.right._compiler_dispatch(compiler, asfrom=True, **kw)
    on = element.onclause._compiler_dispatch(compiler, **kw)
    return f"{left} CROSS JOIN {right} ON {on}"


@compiles(CaseSensitiveLike)
def _like_default(element: CaseSensitiveLike, compiler: SQLCompiler, **kw: Any) -> str:
    like = element.column.like(element.pattern, escape=_ESCAPE)
    return f"({compiler.process(like, **kw)})"


@compiles(CaseSensitiveLike, "sqlite")
def _like_sqlite(element: CaseSensitiveLike, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite's LIKE ignores ASCII case unless a connection-wide pragma is set; GLOB does not.
    glob = element.column.op("GLOB", is_comparison=True)(element.glob)
    return f"({compiler.process(glob, **kw)})"


@compiles(CaseSensitiveLike, "mysql")
@compiles(CaseSensitiveLike, "mariadb")
def _like_mysql(element: CaseSensitiveLike, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    pattern = compiler.process(element.pattern, **kw)
    escape = compiler.render_literal_value(_ESCAPE, sa.String())
    return f"(CONVERT({column} USING utf8mb4) COLLATE {_MYSQL_BIN} LIKE {pattern} ESCAPE {escape})"


@compiles(BinarySortKey)
def _sort_default(element: BinarySortKey, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.column, **kw)


@compiles(BinarySortKey, "postgresql")
def _sort_postgres(element: BinarySortKey, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.column.collate("C"), **kw)


@compiles(BinarySortKey, "mysql")
@compiles(BinarySortKey, "mariadb")
def _sort_mysql(element: BinarySortKey, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    return f"CONVERT({column} USING utf8mb4) COLLATE {_MYSQL_BIN}"
