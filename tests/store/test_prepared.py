"""Statements executed on the driver's cursor (the logging path), on every backend."""

from __future__ import annotations

import pytest
from sqlalchemy import bindparam, event, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from mltrail.store.schema import metric_chunks, metric_summaries
from mltrail.store.sql import SqlTrackingStore
from mltrail.store.sql.engine import run_write
from mltrail.store.sql.prepared import Prepared

_mc = metric_chunks.c
_ms = metric_summaries.c

INSERT_CHUNK = Prepared(
    insert(metric_chunks),
    column_keys=("run_id", "key", "count", "min_step", "max_step", "steps", "timestamps", "values"),
)
CHUNKS = Prepared(
    select(_mc["key"], _mc["count"], _mc.steps, _mc["values"])
    .where(_mc.run_id == bindparam("run_id"))
    .order_by(_mc["key"])
)
INSERT_SUMMARY = Prepared(
    insert(metric_summaries),
    column_keys=("run_id", "key", "value", "value_kind", "step", "timestamp", "count"),
)
SET_VALUE = Prepared(
    update(metric_summaries)
    .where(_ms.run_id == bindparam("b_run"), _ms["key"] == bindparam("b_key"))
    .values(value=bindparam("value"))
)


def _chunk(run_id: str, key: str, payload: bytes) -> dict[str, object]:
    return {
        "run_id": run_id,
        "key": key,
        "count": 1,
        "min_step": 0,
        "max_step": 2**40,
        "steps": payload,
        "timestamps": payload,
        "values": payload,
    }


def _summary(run_id: str, key: str) -> dict[str, object]:
    return {
        "run_id": run_id,
        "key": key,
        "value": 0.5,
        "value_kind": 0,
        "step": 2**40,
        "timestamp": 1,
        "count": 1,
    }


def test_round_trip_matches_sqlalchemy(store: SqlTrackingStore, run_id: str) -> None:
    blob = bytes(range(256)) * 3  # every byte value, NUL included
    with store.engine.begin() as conn:
        INSERT_CHUNK.execute_many(conn, [_chunk(run_id, "b", blob), _chunk(run_id, "a", b"\x00")])
        INSERT_SUMMARY.execute(conn, _summary(run_id, "values"))  # a reserved word as a key
        assert SET_VALUE.execute(conn, {"b_run": run_id, "b_key": "values", "value": 1e-300}) == 1
        assert SET_VALUE.execute(conn, {"b_run": run_id, "b_key": "nope", "value": 2.0}) == 0
        fetched = CHUNKS.fetch(conn, {"run_id": run_id})
    assert [(k, n, bytes(s), bytes(v)) for k, n, s, v in fetched] == [
        ("a", 1, b"\x00", b"\x00"),
        ("b", 1, blob, blob),
    ]
    with store.engine.connect() as conn:
        row = conn.execute(select(metric_summaries)).one()
        assert (row.key, row.value, row.step) == ("values", 1e-300, 2**40)
        chunks = conn.execute(select(_mc.max_step).order_by(_mc["key"])).scalars().all()
        assert chunks == [2**40, 2**40]


def test_writes_belong_to_the_callers_transaction(store: SqlTrackingStore, run_id: str) -> None:
    with store.engine.connect() as conn:
        with conn.begin() as tx:
            INSERT_CHUNK.execute(conn, _chunk(run_id, "m", b"x"))
            assert len(CHUNKS.fetch(conn, {"run_id": run_id})) == 1
            tx.rollback()
        with conn.begin():
            assert CHUNKS.fetch(conn, {"run_id": run_id}) == []


def test_driver_errors_are_sqlalchemy_errors(store: SqlTrackingStore, run_id: str) -> None:
    with store.engine.connect() as conn, conn.begin():
        INSERT_SUMMARY.execute(conn, _summary(run_id, "dup"))
        with pytest.raises(IntegrityError) as caught:
            INSERT_SUMMARY.execute(conn, _summary(run_id, "dup"))
    assert isinstance(caught.value, DBAPIError)
    assert not caught.value.connection_invalidated
    # Parameters (which may be user data) stay out of the message.
    assert caught.value.hide_parameters


def test_statements_are_announced_to_listeners(store: SqlTrackingStore, run_id: str) -> None:
    seen: list[tuple[str, bool]] = []

    def record(_c: object, _cur: object, sql: str, _p: object, _ctx: object, many: bool) -> None:
        seen.append((sql, many))

    event.listen(store.engine, "before_cursor_execute", record)
    try:
        with store.engine.begin() as conn:
            INSERT_CHUNK.execute_many(conn, [_chunk(run_id, "m", b"x"), _chunk(run_id, "n", b"y")])
            # One row goes to the driver's execute.
            INSERT_CHUNK.execute_many(conn, [_chunk(run_id, "o", b"z")])
            CHUNKS.fetch(conn, {"run_id": run_id})
    finally:
        event.remove(store.engine, "before_cursor_execute", record)
    statements = [(sql.split()[0], many) for sql, many in seen]
    assert ("INSERT", True) in statements and ("INSERT", False) in statements
    assert ("SELECT", False) in statements


def test_run_write_rolls_back_a_failed_prepared_write(store: SqlTrackingStore, run_id: str) -> None:
    attempts = []

    def work(conn: object) -> None:
        attempts.append(1)
        if len(attempts) == 1:
            INSERT_SUMMARY.execute(conn, _summary(run_id, "dup"))  # type: ignore[arg-type]
            INSERT_SUMMARY.execute(conn, _summary(run_id, "dup"))  # type: ignore[arg-type]

    # A duplicate key is not a conflict worth retrying: it surfaces, with the first insert
    # rolled back.
    with pytest.raises(IntegrityError):
        run_write(store.engine, work)
    assert len(attempts) == 1
    with store.engine.connect() as conn:
        assert conn.execute(select(metric_summaries)).all() == []
