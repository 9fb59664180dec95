"""String comparisons that mean the same thing on SQLite, PostgreSQL and MySQL/MariaDB.

The search grammar promises exact, case-sensitive ``=``, ``!=``, ``IN`` and ``LIKE``
and code-point ordering of strings. The three databases disagree by default:
SQLite's LIKE ignores ASCII case, MySQL's usual ``*_ci`` collations ignore case (and
trailing spaces) even for ``=``, and PostgreSQL orders by the database locale. The
constructs here compile to the right SQL for the dialect that executes them, so the
query builders stay dialect-free.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement

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


class ExactMatch(ColumnElement[bool]):
    """``column = value`` / ``column IN values`` comparing exact code points."""

    # Compiled per dialect from plain attributes; statements using it are not cached.
    inherit_cache = False
    type = sa.Boolean()
    # A predicate, not a boolean column: no "= 1" on SQLite/MySQL, and NOT (...) for negation.
    _is_implicitly_boolean = True

    def __init__(self, column: ColumnElement[Any], values: Sequence[str]) -> None:
        self.column = column
        self.values = tuple(values)


class CaseSensitiveLike(ColumnElement[bool]):
    """``column LIKE pattern`` with ``%``/``_`` wildcards, backslash escapes, exact case."""

    inherit_cache = False
    type = sa.Boolean()
    # A predicate, not a boolean column: no "= 1" on SQLite/MySQL, and NOT (...) for negation.
    _is_implicitly_boolean = True

    def __init__(self, column: ColumnElement[Any], pattern: str) -> None:
        self.column = column
        self.pattern = normalize_like_pattern(pattern)


class BinarySortKey(ColumnElement[Any]):
    """A string column ordered by code point on every database."""

    inherit_cache = False

    def __init__(self, column: ColumnElement[Any]) -> None:
        self.column = column
        self.type = column.type


def exact_match(column: ColumnElement[Any], value: str) -> ColumnElement[bool]:
    return ExactMatch(column, (value,))


def exact_in(column: ColumnElement[Any], values: Sequence[str]) -> ColumnElement[bool]:
    return ExactMatch(column, values)


def case_insensitive_like(column: ColumnElement[Any], pattern: str) -> ColumnElement[bool]:
    return column.ilike(normalize_like_pattern(pattern), escape=_ESCAPE)


def _plain_match(element: ExactMatch) -> ColumnElement[bool]:
    if len(element.values) == 1:
        return element.column == sa.bindparam(None, element.values[0], type_=sa.String())
    return element.column.in_(
        sa.bindparam(None, list(element.values), type_=sa.String(), expanding=True)
    )


@compiles(ExactMatch)
def _exact_default(element: ExactMatch, compiler: SQLCompiler, **kw: Any) -> str:
    return f"({compiler.process(_plain_match(element), **kw)})"


def _mysql_binary(expr: ColumnElement[Any]) -> ColumnElement[Any]:
    return sa.cast(expr, sa.LargeBinary())


@compiles(ExactMatch, "mysql")
@compiles(ExactMatch, "mariadb")
def _exact_mysql(element: ExactMatch, compiler: SQLCompiler, **kw: Any) -> str:
    # The collation-aware test first keeps indexes usable; the binary test then
    # rejects matches that differ in case or trailing spaces.
    binary = _mysql_binary(element.column)
    if len(element.values) == 1:
        value = sa.bindparam(None, element.values[0], type_=sa.String())
        exact: ColumnElement[bool] = binary == _mysql_binary(value)
    else:
        exact = binary.in_([_mysql_binary(sa.literal(v, sa.String())) for v in element.values])
    return f"({compiler.process(sa.and_(_plain_match(element), exact), **kw)})"


@compiles(CaseSensitiveLike)
def _like_default(element: CaseSensitiveLike, compiler: SQLCompiler, **kw: Any) -> str:
    like = element.column.like(element.pattern, escape=_ESCAPE)
    return f"({compiler.process(like, **kw)})"


@compiles(CaseSensitiveLike, "sqlite")
def _like_sqlite(element: CaseSensitiveLike, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite's LIKE ignores ASCII case unless a connection-wide pragma is set; GLOB does not.
    glob = element.column.op("GLOB", is_comparison=True)(
        sa.bindparam(None, like_to_glob(element.pattern), type_=sa.String())
    )
    return f"({compiler.process(glob, **kw)})"


@compiles(CaseSensitiveLike, "mysql")
@compiles(CaseSensitiveLike, "mariadb")
def _like_mysql(element: CaseSensitiveLike, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    pattern = compiler.process(sa.bindparam(None, element.pattern, type_=sa.String()), **kw)
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
