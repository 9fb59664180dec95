"""Failed-login throttling in the database, on SQLite, PostgreSQL and MariaDB.

Two AuthService objects over one database stand for two server processes: the budget is
shared. The clock is the test's, so windows and slow intervals are exact.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from mltrail.errors import TooManyRequests, Unauthenticated
from mltrail.service.auth import AuthService, PasswordHashing
from mltrail.service.login_throttle import (
    LoginThrottle,
    ThrottleLimits,
    address_key,
    name_key,
)
from mltrail.store.schema_auth import login_failures
from mltrail.store.sql import open_store
from mltrail.store.sql.auth import SqlAuthStore
from mltrail.store.sql.login_throttle import SqlThrottleStore

PASSWORD = "correct horse battery"
LIMITS = ThrottleLimits(
    per_user_address=4, per_address=12, user_ceiling=8, slow_interval_seconds=2.0
)


def cheap_hashing() -> PasswordHashing:
    """argon2id at its lowest cost: the rules under test do not depend on it, and the full
    cost (~0.1-0.5 s per try on this machine) would make each test take minutes."""
    from argon2 import PasswordHasher

    hashing = PasswordHashing()
    hashing._argon = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    hashing._dummy = hashing._argon.hash("dummy")
    return hashing


class Replicas:
    """Two services on one database, as two server processes would be."""

    def __init__(self, db_uri: str, limits: ThrottleLimits = LIMITS) -> None:
        self.now = 1_000_000.0
        store = open_store(db_uri, default_artifact_root="/tmp/mltrail-throttle-test")
        self.engine = store.engine
        hashing = cheap_hashing()
        self.services = [
            AuthService(
                store=SqlAuthStore(store.engine),
                throttle=LoginThrottle(SqlThrottleStore(store.engine), limits, clock=self.clock),
                hashing=hashing,
            )
            for _ in range(2)
        ]
        self.services[0].create_user("alice", PASSWORD, is_admin=True)
        self.services[0].create_user("bob", PASSWORD)

    def clock(self) -> float:
        return self.now

    def login(self, turn: int, user: str, password: str, address: str) -> str:
        """'ok', 'wrong' or 'throttled', through replica ``turn % 2``."""
        service = self.services[turn % 2]
        try:
            service.authenticate_password(user, password, address=address)
        except Unauthenticated:
            return "wrong"
        except TooManyRequests:
            return "throttled"
        return "ok"


@pytest.fixture
def replicas(db_uri: str) -> Replicas:
    return Replicas(db_uri)


def test_one_address_is_stopped_for_that_user_and_the_owner_still_gets_in(
    replicas: Replicas,
) -> None:
    # The attacker's failures alternate between the replicas: they add up.
    got = [replicas.login(i, "alice", f"guess-{i}", "198.51.100.7") for i in range(6)]
    assert got == ["wrong"] * 4 + ["throttled"] * 2
    # Even the right password is refused from that address...
    assert replicas.login(0, "alice", PASSWORD, "198.51.100.7") == "throttled"
    # ...but not from the owner's address, on either replica.
    assert replicas.login(0, "alice", PASSWORD, "192.0.2.10") == "ok"
    assert replicas.login(1, "alice", PASSWORD, "192.0.2.10") == "ok"
    # Nor for another user from the attacker's address.
    assert replicas.login(1, "bob", PASSWORD, "198.51.100.7") == "ok"
    # The failures age out of the window.
    replicas.now += LIMITS.window_seconds + 1
    assert replicas.login(0, "alice", PASSWORD, "198.51.100.7") == "ok"


def test_the_refusal_says_when_to_try_again(replicas: Replicas) -> None:
    for i in range(4):
        replicas.login(i, "alice", "wrong-password", "198.51.100.7")
        replicas.now += 10
    with pytest.raises(TooManyRequests) as refused:
        replicas.services[0].authenticate_password("alice", PASSWORD, address="198.51.100.7")
    # The oldest failure leaves the 300 s window 40 s after it happened... 260 s from now.
    assert refused.value.retry_after == 260


def test_past_the_ceiling_failing_addresses_are_slowed_and_others_are_not(
    replicas: Replicas,
) -> None:
    # Eight addresses fail once each: the user's ceiling (8) is reached, no address's limit.
    attackers = [f"203.0.113.{i}" for i in range(1, 9)]
    for i, address in enumerate(attackers):
        assert replicas.login(i, "alice", f"guess-{i}", address) == "wrong"
    # An address that already failed gets one try per slow interval, shared by all of them.
    assert replicas.login(0, "alice", "guess-x", attackers[0]) == "wrong"
    assert replicas.login(1, "alice", "guess-y", attackers[1]) == "throttled"
    assert replicas.login(0, "alice", PASSWORD, attackers[2]) == "throttled"
    replicas.now += LIMITS.slow_interval_seconds
    assert replicas.login(1, "alice", "guess-z", attackers[3]) == "wrong"
    # The owner, from an address that never failed: in at once, as often as needed.
    for turn in range(3):
        assert replicas.login(turn, "alice", PASSWORD, "192.0.2.10") == "ok"
    # Slowed, never locked: an attacking address with the right password gets in at its turn.
    replicas.now += LIMITS.slow_interval_seconds
    assert replicas.login(0, "alice", PASSWORD, attackers[4]) == "ok"


def test_an_address_spraying_names_is_stopped_but_tokens_keep_working(
    replicas: Replicas,
) -> None:
    token = replicas.services[0].create_token("bob", name="ci").token
    got = [replicas.login(i, f"user{i}", "wrong-password", "198.51.100.9") for i in range(13)]
    assert got == ["wrong"] * 12 + ["throttled"]
    assert replicas.login(0, "bob", PASSWORD, "198.51.100.9") == "throttled"
    # A valid token is not a guess: it still works from there, by Basic or Bearer.
    service = replicas.services[1]
    assert service.authenticate_secret("bob", token, address="198.51.100.9").username == "bob"
    assert service.authenticate_token(token, address="198.51.100.9").username == "bob"
    # A wrong token is refused as throttled: the address is over its budget.
    with pytest.raises(TooManyRequests):
        service.authenticate_token(token[:-3] + "xyz", address="198.51.100.9")


def test_the_owner_is_not_locked_out_by_failures_from_many_addresses(
    replicas: Replicas,
) -> None:
    # What issue 17 found: ten wrong passwords from anywhere locked the admin out.
    for i in range(40):
        replicas.login(i, "alice", f"guess-{i}", f"203.0.113.{i % 20 + 1}")
    assert replicas.login(0, "alice", PASSWORD, "192.0.2.10") == "ok"
    assert replicas.login(1, "alice", PASSWORD, "192.0.2.11") == "ok"


def test_a_successful_login_clears_that_address_failures(replicas: Replicas) -> None:
    for i in range(3):
        assert replicas.login(i, "alice", "typo-password", "192.0.2.10") == "wrong"
    assert replicas.login(0, "alice", PASSWORD, "192.0.2.10") == "ok"
    # Three more typos do not reach the limit of four: the count started again.
    for i in range(3):
        assert replicas.login(i, "alice", "typo-password", "192.0.2.10") == "wrong"
    assert replicas.login(1, "alice", PASSWORD, "192.0.2.10") == "ok"


def test_unknown_users_count_like_known_ones(replicas: Replicas) -> None:
    got = [replicas.login(i, "nobody", "wrong-password", "198.51.100.7") for i in range(5)]
    assert got == ["wrong"] * 4 + ["throttled"]


def _claim_together(store: SqlThrottleStore, *, now: int, claimants: int) -> list[bool]:
    barrier = threading.Barrier(claimants)
    wins: list[bool] = []

    def claim() -> None:
        barrier.wait(timeout=30)
        wins.append(store.claim_slot(username="alice", now=now, interval_ms=1000))

    threads = [threading.Thread(target=claim) for _ in range(claimants)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return wins


@pytest.mark.parametrize("backend", ["postgres", "mysql"])
def test_a_slow_try_is_given_to_one_of_many_servers_claiming_it(
    request: pytest.FixtureRequest, backend: str
) -> None:
    uri = str(request.getfixturevalue(f"{backend}_uri"))
    store = SqlThrottleStore(open_store(uri, default_artifact_root="/tmp/x").engine)
    for round_ in range(5):
        wins = _claim_together(store, now=10_000 * (round_ + 1), claimants=8)
        assert sorted(wins) == [False] * 7 + [True]


def test_old_failures_are_pruned(db_uri: str) -> None:
    engine = open_store(db_uri, default_artifact_root="/tmp/x").engine
    now = [1_000_000.0]
    throttle = LoginThrottle(SqlThrottleStore(engine), LIMITS, clock=lambda: now[0], prune_every=5)

    def rows() -> int:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(login_failures)).scalar_one())

    for i in range(4):
        throttle.failed(throttle.check(username=f"u{i}", address=f"192.0.2.{i}"))
    assert rows() == 4
    now[0] += LIMITS.window_seconds + 1
    throttle.failed(throttle.check(username="u9", address="192.0.2.9"))  # the fifth prunes
    assert rows() == 1


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("203.0.113.5", "203.0.113.5"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:bbbb::9", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.5", "203.0.113.5"),
        ("unknown", "unknown"),
    ],
)
def test_addresses_are_counted_by_host_or_ipv6_64(address: str, key: str) -> None:
    assert address_key(address) == key


def test_long_made_up_names_are_counted_under_a_digest() -> None:
    long_name: Callable[[str], str] = lambda c: c * 5000  # noqa: E731
    assert len(name_key(long_name("a"))) < 100
    assert name_key(long_name("a")) != name_key(long_name("b"))
    assert name_key("alice") == "alice"


def test_the_revision_creates_the_tables_as_declared(db_uri: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from mltrail.store.schema import metadata

    engine = open_store(db_uri, default_artifact_root="/tmp/x").engine
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = [d for d in compare_metadata(context, metadata) if "login_" in repr(d)]
    assert diff == []
