"""Idempotency keys: a batch carrying one is applied at most once."""

from __future__ import annotations

from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import IntegrityError

from mltrail.store.schema import applied_requests
from mltrail.store.sql.engine import RetryableConflict

_a = applied_requests.c


def claim(conn: Connection, request_key: str, *, kind: str, now: int) -> bool:
    """Record the key in the caller's transaction; False when it was applied before."""
    if conn.execute(select(_a.request_key).where(_a.request_key == request_key)).first():
        return False
    try:
        with conn.begin_nested():
            conn.execute(
                insert(applied_requests).values(
                    request_key=request_key, kind=kind, created_time=now
                )
            )
    except IntegrityError as exc:
        # The same batch is being applied concurrently: start over and see its key.
        raise RetryableConflict(str(exc)) from exc
    return True
