"""Statements run straight on the driver's cursor, for the per-request logging path.

A ``log_metric`` request runs four statements. SQLite executes each in about 10-30 us;
SQLAlchemy's execution path around them (cache key, parameter construction, result
set-up, event dispatch) costs 60-80 us of Python apiece, most of the store's time per
request. A ``Prepared`` statement is still written with SQLAlchemy Core and compiled by
it, once per dialect, so quoting, paramstyle and type handling stay SQLAlchemy's; only
the execution goes to the DBAPI cursor of the caller's connection, inside the caller's
transaction. Driver errors are re-raised as SQLAlchemy's ``DBAPIError`` (with the
connection invalidated on a disconnect, as SQLAlchemy does), so retries and error
translation see the same exceptions as everywhere else.

Listeners of ``before_cursor_execute`` still hear of each statement (tools and tests
that count statements); with none registered that check costs one attribute lookup.

Rows come back as plain tuples of driver values, in the order of the selected columns;
callers convert them (no result processors run).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement

Params = Mapping[str, Any]


@dataclass(frozen=True)
class _Compiled:
    sql: str
    # Parameter names in placeholder order, for positional paramstyles; None for named ones.
    order: tuple[str, ...] | None
    processors: dict[str, Callable[[Any], Any]]

    def bind(self, params: Params) -> Any:
        if self.processors:
            params = {
                name: (proc(params[name]) if (proc := self.processors.get(name)) else params[name])
                for name in params
            }
        if self.order is None:
            return params
        return tuple(params[name] for name in self.order)


class Prepared:
    """A Core statement compiled once per dialect and executed on the DBAPI cursor."""

    def __init__(self, statement: ClauseElement, *, column_keys: Sequence[str] = ()) -> None:
        self.statement = statement
        # For INSERT/UPDATE without .values(): the columns the parameters carry.
        self.column_keys = list(column_keys) or None
        self._by_dialect: dict[tuple[str, str, str], _Compiled] = {}

    def _compiled(self, dialect: Dialect) -> _Compiled:
        key = (dialect.name, dialect.driver, dialect.paramstyle)
        compiled = self._by_dialect.get(key)
        if compiled is None:
            compiled = self._by_dialect[key] = self._compile(dialect)
        return compiled

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiler = self.statement.compile(dialect=dialect, column_keys=self.column_keys)
        assert isinstance(compiler, SQLCompiler)
        processors: dict[str, Callable[[Any], Any]] = {}
        for name, bind in compiler.binds.items():
            proc = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if proc is not None:
                processors[name] = proc
        order = tuple(compiler.positiontup or ()) if compiler.positional else None
        return _Compiled(sql=compiler.string, order=order, processors=processors)

    def fetch(self, conn: Connection, params: Params) -> list[tuple[Any, ...]]:
        """The rows of a SELECT."""
        compiled = self._compiled(conn.dialect)
        rows: list[tuple[Any, ...]] = _run(conn, compiled.sql, compiled.bind(params), _ROWS)
        return rows

    def execute(self, conn: Connection, params: Params) -> int:
        """Run an INSERT/UPDATE/DELETE once; the number of rows it matched."""
        compiled = self._compiled(conn.dialect)
        count: int = _run(conn, compiled.sql, compiled.bind(params), _COUNT)
        return count

    def execute_many(self, conn: Connection, rows: Sequence[Params]) -> None:
        compiled = self._compiled(conn.dialect)
        if len(rows) == 1:
            # One row (a log_metric call): the driver's execute costs less than executemany.
            _run(conn, compiled.sql, compiled.bind(rows[0]), _COUNT)
        else:
            _run(conn, compiled.sql, [compiled.bind(row) for row in rows], _MANY)


def execute_sql(conn: Connection, sql: str) -> None:
    """Run a parameterless statement (``BEGIN IMMEDIATE``) on the driver's cursor."""
    _run(conn, sql, (), _COUNT)


# What _run returns: the rows, the row count, or nothing (executemany).
_ROWS, _COUNT, _MANY = 0, 1, 2


def _run(conn: Connection, sql: str, params: Any, mode: int) -> Any:
    """Run ``sql`` on a cursor of the caller's connection and close it; driver errors (also
    while reading) become DBAPIError. A plain function, not a context manager: this runs
    four or five times per logging request."""
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        _announce(conn, cursor, sql, params, many=mode == _MANY)
        if mode == _MANY:
            cursor.executemany(sql, params)
            return None
        cursor.execute(sql, params)
        if mode == _ROWS:
            return [tuple(row) for row in cursor.fetchall()]
        return int(cursor.rowcount)
    except conn.dialect.loaded_dbapi.Error as exc:
        raise _wrapped(conn, exc, cursor, sql, params) from exc
    finally:
        cursor.close()


def _announce(conn: Connection, cursor: Any, sql: str, params: Any, *, many: bool) -> None:
    listeners = conn.dispatch.before_cursor_execute
    if listeners:
        listeners(conn, cursor, sql, params, None, many)


def _wrapped(conn: Connection, exc: Any, cursor: Any, sql: str, params: Any) -> DBAPIError:
    dialect = conn.dialect
    disconnect = dialect.is_disconnect(exc, conn.connection.dbapi_connection, cursor)
    if disconnect:
        conn.invalidate(exc)
    wrapped = DBAPIError.instance(
        sql,
        params,
        exc,
        dialect.loaded_dbapi.Error,
        hide_parameters=True,
        connection_invalidated=disconnect,
        dialect=dialect,
    )
    assert isinstance(wrapped, DBAPIError)  # the driver's errors always map to one
    return wrapped
