"""``SqlThrottleStore``: failed logins counted in the tracking database, so that every server
process on it applies one budget (see :mod:`mltrail.service.login_throttle` for the rules)."""

from __future__ import annotations

from sqlalchemy import Connection, Engine, and_, case, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from mltrail.store.schema_auth import FailureCounts, login_failures, login_slots
from mltrail.store.sql.engine import read_connection, run_write

_f = login_failures.c
_s = login_slots.c


class SqlThrottleStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def failure_counts(self, *, username: str, address: str, since: int) -> FailureCounts:
        """The three counts in one statement (each side of the OR has its index)."""
        pair = and_(_f.username == username, _f.address == address)
        mine = _f.username == username
        here = _f.address == address
        query = select(
            func.sum(case((pair, 1), else_=0)),
            func.sum(case((mine, 1), else_=0)),
            func.sum(case((here, 1), else_=0)),
            func.min(case((pair, _f.failed_at), else_=None)),
            func.min(case((here, _f.failed_at), else_=None)),
        ).where(_f.failed_at > since, or_(mine, here))
        with read_connection(self.engine) as conn:
            row = conn.execute(query).one()
        return FailureCounts(*(int(v or 0) for v in row))

    def record_failure(self, *, username: str, address: str, at: int) -> None:
        def work(conn: Connection) -> None:
            conn.execute(
                insert(login_failures).values(username=username, address=address, failed_at=at)
            )

        run_write(self.engine, work)

    def clear_failures(self, *, username: str, address: str) -> None:
        def work(conn: Connection) -> None:
            conn.execute(
                delete(login_failures).where(_f.username == username, _f.address == address)
            )

        run_write(self.engine, work)

    def claim_slot(self, *, username: str, now: int, interval_ms: int) -> bool:
        """Compare-and-set on the user's row: of several servers claiming the same slot at
        once, exactly one moves ``next_at`` forward (or inserts the row) and gets it."""

        def work(conn: Connection) -> bool:
            moved = conn.execute(
                update(login_slots)
                .where(_s.username == username, _s.next_at <= now)
                .values(next_at=now + interval_ms)
            ).rowcount
            if moved:
                return True
            if conn.execute(select(_s.next_at).where(_s.username == username)).first():
                return False
            try:
                with conn.begin_nested():
                    conn.execute(
                        insert(login_slots).values(username=username, next_at=now + interval_ms)
                    )
            except IntegrityError:
                return False  # another server inserted it first: the slot is theirs
            return True

        return run_write(self.engine, work)

    def prune(self, *, before: int) -> None:
        def work(conn: Connection) -> None:
            conn.execute(delete(login_failures).where(_f.failed_at < before))
            conn.execute(delete(login_slots).where(_s.next_at < before))

        run_write(self.engine, work)
