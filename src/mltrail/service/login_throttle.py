"""Failed-login throttling that holds across every server process sharing one database.

The rules, within a sliding window (5 minutes by default):

* **An address** (IPv4, or an IPv6 client by its /64) with ``per_address`` failures, for any
  users, is refused (429) until its failures age out: one machine cannot spray names.
* **A user from one address** with ``per_user_address`` failures is refused from that
  address only. Nobody else is affected: an attacker cannot lock the owner out.
* **A user's ceiling**: once a user has ``user_ceiling`` failures from all addresses together,
  addresses that already failed for that user share one try per ``slow_interval_seconds``
  (429 with Retry-After otherwise). An address that never failed for that user is not slowed,
  so the owner's correct password from their own machine still gets in at once.

A successful login clears the failures of that (user, address). API tokens are random
256-bit secrets: a wrong token counts against the address only, and a valid token is never
refused because of the owner's failed passwords.

The counts live in the database (:class:`ThrottleStore`), so N server processes allow the
budget once, not N times. Time is the servers' clock (ms since the epoch): servers whose
clocks disagree by a few seconds only shift the 5-minute window by as much.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from mltrail.errors import TooManyRequests
from mltrail.store.schema_auth import FailureCounts

logger = logging.getLogger("mltrail.auth")

# Valid user names are at most 128 characters; anything longer is someone's guess and is
# counted under a digest, so that the column stays bounded.
_MAX_NAME = 128


@dataclass(frozen=True)
class ThrottleLimits:
    per_user_address: int = 10
    per_address: int = 50
    user_ceiling: int = 30
    slow_interval_seconds: float = 1.0
    window_seconds: float = 300.0


class ThrottleStore(Protocol):
    def failure_counts(self, *, username: str, address: str, since: int) -> FailureCounts: ...

    def record_failure(self, *, username: str, address: str, at: int) -> None: ...

    def clear_failures(self, *, username: str, address: str) -> None: ...

    def claim_slot(self, *, username: str, now: int, interval_ms: int) -> bool:
        """Take the user's next slow try if it is due (atomically across processes)."""
        ...

    def prune(self, *, before: int) -> None: ...


@dataclass(frozen=True)
class Verdict:
    """What :meth:`LoginThrottle.check` found; hand it back to ``succeeded``/``failed``."""

    username: str
    address: str
    counts: FailureCounts


def address_key(address: str) -> str:
    """The address failures are counted under: IPv6 clients by their /64 (one host holds a
    whole /64 and could otherwise rotate through it), everything else as it is."""
    try:
        ip = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return address[:64] or "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def name_key(username: str) -> str:
    if len(username) <= _MAX_NAME:
        return username
    import hashlib

    return "~" + hashlib.sha256(username.encode("utf-8", "surrogatepass")).hexdigest()


class LoginThrottle:
    def __init__(
        self,
        store: ThrottleStore,
        limits: ThrottleLimits | None = None,
        *,
        clock: Callable[[], float] = time.time,
        prune_every: int = 100,
    ) -> None:
        self.store = store
        self.limits = limits or ThrottleLimits()
        self._clock = clock
        self._prune_every = max(1, prune_every)
        self._failures_seen = 0

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    def check(self, *, username: str, address: str) -> Verdict:
        """Raise TooManyRequests when this try must wait; otherwise the verdict to pass on."""
        name, where = name_key(username), address_key(address)
        now = self._now_ms()
        window_ms = int(self.limits.window_seconds * 1000)
        counts = self.store.failure_counts(username=name, address=where, since=now - window_ms)
        limits = self.limits
        if counts.address >= limits.per_address:
            self._refuse(username, where, counts, counts.address_oldest + window_ms - now)
        if name and counts.pair >= limits.per_user_address:
            self._refuse(username, where, counts, counts.pair_oldest + window_ms - now)
        if name and counts.pair > 0 and counts.user >= limits.user_ceiling:
            interval_ms = int(limits.slow_interval_seconds * 1000)
            if not self.store.claim_slot(username=name, now=now, interval_ms=interval_ms):
                self._refuse(username, where, counts, interval_ms)
        return Verdict(name, where, counts)

    def _refuse(self, username: str, address: str, counts: FailureCounts, wait_ms: int) -> None:
        logger.warning(
            "login throttled: user=%r address=%s (recent failures: %d of this user from this "
            "address, %d of this user, %d from this address)",
            username,
            address,
            counts.pair,
            counts.user,
            counts.address,
        )
        raise TooManyRequests(
            "Too many failed logins; try again later", retry_after=max(1, -(-wait_ms // 1000))
        )

    def failed(self, verdict: Verdict) -> None:
        now = self._now_ms()
        self.store.record_failure(username=verdict.username, address=verdict.address, at=now)
        logger.warning("failed login: user=%r address=%s", verdict.username, verdict.address)
        self._failures_seen += 1
        if self._failures_seen % self._prune_every == 0:
            self.store.prune(before=now - int(self.limits.window_seconds * 1000))

    def succeeded(self, verdict: Verdict) -> None:
        if verdict.counts.pair:
            self.store.clear_failures(username=verdict.username, address=verdict.address)


class MemoryThrottleStore:
    """The store for a single process (tests, tools that never serve): a list in memory."""

    def __init__(self) -> None:
        import threading

        self._lock = threading.Lock()
        self._rows: list[tuple[str, str, int]] = []
        self._slots: dict[str, int] = {}

    def failure_counts(self, *, username: str, address: str, since: int) -> FailureCounts:
        with self._lock:
            rows = [r for r in self._rows if r[2] > since]
        pair = [r[2] for r in rows if r[0] == username and r[1] == address]
        by_address = [r[2] for r in rows if r[1] == address]
        return FailureCounts(
            pair=len(pair),
            user=sum(1 for r in rows if r[0] == username),
            address=len(by_address),
            pair_oldest=min(pair, default=0),
            address_oldest=min(by_address, default=0),
        )

    def record_failure(self, *, username: str, address: str, at: int) -> None:
        with self._lock:
            self._rows.append((username, address, at))

    def clear_failures(self, *, username: str, address: str) -> None:
        with self._lock:
            self._rows = [r for r in self._rows if (r[0], r[1]) != (username, address)]

    def claim_slot(self, *, username: str, now: int, interval_ms: int) -> bool:
        with self._lock:
            if self._slots.get(username, 0) > now:
                return False
            self._slots[username] = now + interval_ms
            return True

    def prune(self, *, before: int) -> None:
        with self._lock:
            self._rows = [r for r in self._rows if r[2] >= before]
            self._slots = {k: v for k, v in self._slots.items() if v >= before}
