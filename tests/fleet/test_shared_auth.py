"""Authentication state is shared by every replica: the login throttle counts failures in the
database (N replicas do not allow N times the guesses), and a revoked token or a changed
password stops working on every replica within the stated bound.

Clients reach nginx from different loopback addresses (127.0.0.x, all of which are this
machine); nginx passes each client's address on, and the replicas trust it from nginx only.
"""

from __future__ import annotations

import time
from collections import Counter

import httpx

from fleet.cluster import Replica
from fleet.conftest import FleetFactory

PASSWORD = "alice-password-123"
ME = "/api/v1/users/me"
# The bound of docs/security.md, set short here to keep the test short.
CACHE_SECONDS = 2.0


def _from(address: str, base_url: str, **kwargs: object) -> httpx.Client:
    """A client whose connections come from ``address`` (any 127.0.0.0/8 address works)."""
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=base_url, transport=transport, timeout=60, **kwargs)  # type: ignore[arg-type]


def _served_by(replicas: list[Replica], text: str) -> int:
    return sum(1 for r in replicas if text in r.log())


def test_failed_logins_spread_over_replicas_are_throttled_once(
    fleet_factory: FleetFactory,
) -> None:
    fleet = fleet_factory(workers=[1, 2, 1])
    with fleet.admin() as admin:
        answer = admin.post("/api/v1/users", json={"username": "alice", "password": PASSWORD})
        assert answer.status_code == 201, answer.text
    # Ten wrong passwords from one address, spread by nginx over the three replicas.
    with _from("127.0.0.2", fleet.url) as attacker:
        statuses = [
            attacker.get(ME, auth=("alice", f"guess-{i}-xxxxxxx")).status_code for i in range(12)
        ]
    assert statuses == [401] * 10 + [429] * 2
    assert _served_by(fleet.replicas, "failed login: user='alice' address=127.0.0.2") == 3
    # The owner, from another address, is not locked out...
    with _from("127.0.0.3", fleet.url) as owner:
        assert owner.get(ME, auth=("alice", PASSWORD)).status_code == 200
    # ...and the attacker's address is refused even with the right password.
    with _from("127.0.0.2", fleet.url) as attacker:
        refused = attacker.get(ME, auth=("alice", PASSWORD))
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0


def test_failures_from_many_addresses_slow_the_user_without_locking_the_owner_out(
    fleet_factory: FleetFactory,
) -> None:
    # One slow try per 10 minutes: within this test, a second one is always refused.
    fleet = fleet_factory(
        workers=[1, 1, 1], extra_env={"MLTRAIL_LOGIN_SLOW_INTERVAL_SECONDS": "600"}
    )
    with fleet.admin() as admin:
        admin.post("/api/v1/users", json={"username": "alice", "password": PASSWORD})
    # 20 addresses fail twice each: 40 failures, past the user's ceiling (30), each address
    # far below its own limits.
    statuses: list[int] = []
    for i in range(20):
        with _from(f"127.0.1.{i + 1}", fleet.url) as attacker:
            for j in range(2):
                statuses.append(attacker.get(ME, auth=("alice", f"x-{i}-{j}-guess")).status_code)
    assert statuses[:30] == [401] * 30
    # Past the ceiling: an address's first try goes through (it never failed), its second
    # shares the one slow try with the other failing addresses.
    assert statuses[30::2] == [401] * 5
    assert Counter(statuses[31::2]) == Counter({401: 1, 429: 4})
    # The owner, from an address that never failed, gets in every time, on every replica.
    with _from("127.0.2.1", fleet.url) as owner:
        for _ in range(6):
            assert owner.get(ME, auth=("alice", PASSWORD)).status_code == 200


def test_a_revoked_token_and_a_changed_password_stop_working_on_every_replica(
    fleet_factory: FleetFactory,
) -> None:
    fleet = fleet_factory(
        workers=[1, 1, 2], extra_env={"MLTRAIL_AUTH_CACHE_SECONDS": str(CACHE_SECONDS)}
    )
    with fleet.admin() as admin:
        admin.post("/api/v1/users", json={"username": "alice", "password": PASSWORD})
    with httpx.Client(base_url=fleet.url, auth=("alice", PASSWORD), timeout=60) as alice:
        token = alice.post("/api/v1/tokens", json={"name": "laptop"}).json()["token"]
    replicas = [r.url for r in fleet.replicas]
    # Every replica (every worker) has verified the token as a Basic password: cached.
    for url in replicas:
        for _ in range(6):
            assert httpx.get(f"{url}{ME}", auth=("alice", token)).status_code == 200
    with httpx.Client(base_url=replicas[0], auth=("alice", token), timeout=60) as alice:
        assert alice.delete("/api/v1/tokens/laptop").status_code == 200
    revoked_at = time.monotonic()
    # As a Bearer token it is refused at once, everywhere (never cached).
    for url in replicas:
        bearer = {"Authorization": f"Bearer {token}"}
        assert httpx.get(f"{url}{ME}", headers=bearer).status_code == 401
    # As a Basic password, any request sent once the bound has passed is refused: cache
    # entries expire that long after they were made, all before the revocation.
    while time.monotonic() < revoked_at + CACHE_SECONDS:
        time.sleep(0.1)
    for url in replicas:
        for _ in range(6):
            assert httpx.get(f"{url}{ME}", auth=("alice", token)).status_code == 401

    # A password change acts at once on every replica (cache entries carry the password's
    # change time, which each request reads).
    for url in replicas:
        for _ in range(6):
            assert httpx.get(f"{url}{ME}", auth=("alice", PASSWORD)).status_code == 200
    with fleet.admin() as admin:
        changed = admin.patch("/api/v1/users/alice", json={"password": PASSWORD + "-new"})
        assert changed.status_code == 200, changed.text
    for url in replicas:
        for _ in range(6):
            assert httpx.get(f"{url}{ME}", auth=("alice", PASSWORD)).status_code == 401
            assert httpx.get(f"{url}{ME}", auth=("alice", PASSWORD + "-new")).status_code == 200
