"""Users, passwords, API tokens and browser sessions.

* Passwords: at least 12 characters, hashed with argon2id. Hashes imported from an
  htpasswd file (every kind ``htpasswd`` writes, :mod:`mltrail.service.htpasswd`) are
  verified as they are and replaced by argon2id at the next login; a weak imported
  password is flagged then, and the user must change it before doing anything else.
* Unknown users cost the same time as wrong passwords (a dummy hash is verified).
* Failed logins are throttled per (user, client address), per address, and past a per-user
  ceiling by slowing (never locking) the user's tries, in the database shared by every
  server process (:mod:`mltrail.service.login_throttle`); each failure is logged.
* API tokens look like ``mlt_<id>_<secret>``: the random id finds the row, the secret is
  stored as a SHA-256 digest and compared in constant time.
* Sessions: a random cookie value, stored as its SHA-256 digest, with an expiry and a
  CSRF token. A password change or a user deletion ends the user's sessions.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import logging
import re
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol, TypedDict

from mltrail.errors import (
    InvalidParameterValue,
    MltrailError,
    ResourceDoesNotExist,
    Unauthenticated,
)
from mltrail.service import htpasswd
from mltrail.service.login_throttle import LoginThrottle, MemoryThrottleStore
from mltrail.service.werkzeug_hashes import is_werkzeug_hash, verify_werkzeug
from mltrail.store.schema_auth import SessionRecord, TokenRecord, UserRecord

logger = logging.getLogger("mltrail.auth")

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024
TOKEN_PREFIX = "mlt_"
SESSION_SECONDS = 12 * 3600
USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$")


def now_ms() -> int:
    return int(time.time() * 1000)


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class AuthStore(Protocol):
    def create_user(
        self,
        username: str,
        *,
        password_hash: str,
        is_admin: bool,
        now: int,
        must_change_password: bool = False,
    ) -> UserRecord: ...

    def set_must_change_password(self, username: str, *, value: bool) -> None: ...

    def get_user(self, username: str) -> UserRecord | None: ...

    def get_user_by_id(self, user_id: int) -> UserRecord | None: ...

    def list_users(self) -> list[UserRecord]: ...

    def count_admins(self) -> int: ...

    def delete_user(self, username: str) -> None: ...

    def set_password_hash(self, username: str, *, password_hash: str, now: int | None) -> None: ...

    def set_admin(self, username: str, *, is_admin: bool) -> None: ...

    def create_token(
        self,
        user_id: int,
        *,
        prefix: str,
        secret_hash: str,
        name: str,
        now: int,
        expires_at: int | None,
    ) -> int: ...

    def find_token(self, prefix: str) -> TokenRecord | None: ...

    def list_tokens(self, user_id: int | None) -> list[TokenRecord]: ...

    def delete_token(self, user_id: int, *, name: str) -> None: ...

    def touch_token(self, token_id: int, *, now: int) -> None: ...

    def create_session(
        self, id_hash: str, *, user_id: int, csrf_token: str, now: int, expires_at: int
    ) -> None: ...

    def get_session(self, id_hash: str) -> SessionRecord | None: ...

    def delete_session(self, id_hash: str) -> None: ...


# -- passwords ------------------------------------------------------------------
def validate_password(password: str) -> None:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidParameterValue(
            f"Password must be at least {MIN_PASSWORD_LENGTH} characters long"
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidParameterValue(f"Password must be at most {MAX_PASSWORD_LENGTH} characters")


def weak_password_reason(password: str, username: str) -> str | None:
    """Why an (imported) password falls short of what a new one must be; None if it does not."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"shorter than {MIN_PASSWORD_LENGTH} characters"
    if password.strip().lower() == username.strip().lower():
        return "the same as the user name"
    return None


def validate_username(username: str) -> str:
    if not isinstance(username, str) or not USERNAME_RE.match(username):
        raise InvalidParameterValue(
            f"Invalid user name {username!r}: use 1-128 letters, digits and . _ @ + - "
            "(starting with a letter or digit)"
        )
    return username


class Argon2Cost(TypedDict, total=False):
    time_cost: int
    memory_cost: int
    parallelism: int


# argon2id's cost; empty: argon2-cffi's defaults (RFC 9106's second recommendation: 3
# passes over 64 MiB, 4 lanes), about 0.2 s of CPU per hash. The test suite lowers it.
ARGON2_OPTIONS: Argon2Cost = {}


class PasswordHashing:
    """argon2id hashing; verification of the hashes imported from htpasswd files."""

    def __init__(self) -> None:
        from argon2 import PasswordHasher

        self._argon = PasswordHasher(**ARGON2_OPTIONS)
        # Made at the first unknown user's login rather than at start-up, where its 0.2 s of
        # CPU would be a fifth of the server's start.
        self._dummy: str | None = None

    def hash(self, password: str) -> str:
        return str(self._argon.hash(password))

    def verify(self, stored: str, password: str) -> bool:
        from argon2.exceptions import InvalidHashError, VerificationError

        if is_werkzeug_hash(stored):
            return verify_werkzeug(stored, password)
        if htpasswd.is_imported_hash(stored):
            return htpasswd.verify(stored, password)
        try:
            return bool(self._argon.verify(stored, password))
        except (VerificationError, InvalidHashError):
            return False

    def burn(self, password: str) -> None:
        """Spend the time of a real verification (for unknown users)."""
        if self._dummy is None:
            self._dummy = self.hash(secrets.token_hex(16))
        self.verify(self._dummy, password)

    def needs_rehash(self, stored: str) -> bool:
        if not stored.startswith("$argon2id$"):
            return True
        return bool(self._argon.check_needs_rehash(stored))


# -- tokens -----------------------------------------------------------------------
@dataclass(frozen=True)
class NewToken:
    id: int
    name: str
    token: str
    expires_at: int | None


def split_token(token: str) -> tuple[str, str] | None:
    if not token.startswith(TOKEN_PREFIX):
        return None
    rest = token[len(TOKEN_PREFIX) :]
    prefix, sep, secret = rest.partition("_")
    if not sep or not prefix or not secret or len(prefix) > 32:
        return None
    return prefix, secret


@dataclass(frozen=True)
class ImportedUser:
    username: str
    kind: str
    # Why the password is weak (the user must change it at the next login), or None.
    weak: str | None


@dataclass(frozen=True)
class Session:
    user: UserRecord
    csrf_token: str
    expires_at: int


class AuthService:
    def __init__(
        self,
        *,
        store: AuthStore,
        throttle: LoginThrottle | None = None,
        hashing: PasswordHashing | None = None,
        session_seconds: int = SESSION_SECONDS,
    ) -> None:
        self.store = store
        # Tools that never serve (the CLI) count in memory; the server passes the
        # database-backed throttle that all its processes share.
        self.throttle = throttle or LoginThrottle(MemoryThrottleStore())
        self.hashing = hashing or PasswordHashing()
        self.session_seconds = session_seconds

    # -- users --------------------------------------------------------------
    def create_user(self, username: str, password: str, *, is_admin: bool = False) -> UserRecord:
        validate_username(username)
        validate_password(password)
        return self.store.create_user(
            username, password_hash=self.hashing.hash(password), is_admin=is_admin, now=now_ms()
        )

    def get_user(self, username: str) -> UserRecord:
        user = self.store.get_user(username)
        if user is None:
            raise ResourceDoesNotExist(f"User with username={username} not found")
        return user

    def list_users(self) -> list[UserRecord]:
        return self.store.list_users()

    def delete_user(self, username: str) -> None:
        self.store.delete_user(username)

    def set_password(self, username: str, password: str) -> None:
        validate_password(password)
        self.store.set_password_hash(
            username, password_hash=self.hashing.hash(password), now=now_ms()
        )

    def set_admin(self, username: str, *, is_admin: bool) -> None:
        self.store.set_admin(username, is_admin=is_admin)

    def has_admin(self) -> bool:
        return self.store.count_admins() > 0

    def import_htpasswd(self, lines: Iterable[str]) -> tuple[list[ImportedUser], list[str]]:
        """Import every entry kind htpasswd writes; returns (imported users, skipped lines
        explained). Existing users are left as they are (reported as skipped)."""
        imported: list[ImportedUser] = []
        skipped: list[str] = []
        for entry in htpasswd.parse(lines):
            if isinstance(entry, str):
                skipped.append(entry)
                continue
            where = f"line {entry.line}: user {entry.username!r}"
            if entry.kind is None:
                skipped.append(f"{where}: not a password hash htpasswd writes")
                continue
            stored, weak = entry.secret, None
            if entry.kind == "plain":
                # The password itself: hash it now; it is never stored as it came.
                stored = self.hashing.hash(entry.secret)
                weak = weak_password_reason(entry.secret, entry.username)
            elif entry.kind == "crypt":
                weak = "a DES crypt password (only its first 8 characters ever counted)"
            try:
                validate_username(entry.username)
                self.store.create_user(
                    entry.username,
                    password_hash=stored,
                    is_admin=False,
                    now=now_ms(),
                    must_change_password=weak is not None,
                )
            except MltrailError as exc:  # reported per line, the import goes on
                skipped.append(f"{where}: {exc.message}")
                continue
            imported.append(ImportedUser(entry.username, entry.kind, weak))
        return imported, skipped

    # -- authentication --------------------------------------------------------
    def authenticate_password(self, username: str, password: str, *, address: str) -> UserRecord:
        """The user, or Unauthenticated; throttled (see :mod:`mltrail.service.login_throttle`)."""
        verdict = self.throttle.check(username=username, address=address)
        user = self.store.get_user(username)
        if user is None:
            self.hashing.burn(password)
            self.throttle.failed(verdict)
            raise Unauthenticated("Invalid username or password")
        if not self.hashing.verify(user.password_hash, password):
            self.throttle.failed(verdict)
            raise Unauthenticated("Invalid username or password")
        self.throttle.succeeded(verdict)
        if self.hashing.needs_rehash(user.password_hash):
            imported = htpasswd.is_imported_hash(user.password_hash)
            self.store.set_password_hash(
                username, password_hash=self.hashing.hash(password), now=None
            )
            if imported and weak_password_reason(password, username):
                # Known only now, with the password in hand: the user must pick a new one.
                self.store.set_must_change_password(username, value=True)
                user = dataclasses.replace(user, must_change_password=True)
        return user

    def authenticate_secret(self, username: str, secret: str, *, address: str) -> UserRecord:
        """HTTP Basic: the password field holds a password or an API token of that user.

        A token is not subject to its owner's failed passwords (it is a random 256-bit
        secret); a wrong one counts against the address.
        """
        if split_token(secret) is not None:
            user = self.authenticate_token(secret, address=address)
            if not hmac.compare_digest(user.username.encode(), username.encode()):
                self.throttle.failed(self.throttle.check(username="", address=address))
                raise Unauthenticated("Invalid username or token")
            return user
        return self.authenticate_password(username, secret, address=address)

    def authenticate_token(self, token: str, *, address: str) -> UserRecord:
        parts = split_token(token)
        record = self.store.find_token(parts[0]) if parts else None
        digest = sha256_hex(parts[1] if parts else token)
        expected = record.secret_hash if record else sha256_hex("")
        valid = hmac.compare_digest(digest, expected) and record is not None
        if not valid or record is None:
            self.throttle.failed(self.throttle.check(username="", address=address))
            raise Unauthenticated("Invalid API token")
        now = now_ms()
        if record.expires_at is not None and record.expires_at <= now:
            raise Unauthenticated("The API token has expired")
        user = self.store.get_user_by_id(record.user_id)
        if user is None:
            raise Unauthenticated("Invalid API token")
        if record.last_used_at is None or now - record.last_used_at > 60_000:
            self.store.touch_token(record.id, now=now)
        return user

    # -- tokens ----------------------------------------------------------------
    def create_token(
        self, username: str, *, name: str, expires_in_days: float | None = None
    ) -> NewToken:
        user = self.get_user(username)
        if not name or len(name) > 256 or not name.isprintable():
            raise InvalidParameterValue("A token needs a printable name of 1-256 characters")
        if expires_in_days is not None and expires_in_days <= 0:
            raise InvalidParameterValue("Token expiry must be a positive number of days")
        prefix = secrets.token_hex(8)
        secret = secrets.token_urlsafe(32)
        expires_at = (
            None if expires_in_days is None else now_ms() + int(expires_in_days * 86_400_000)
        )
        token_id = self.store.create_token(
            user.id,
            prefix=prefix,
            secret_hash=sha256_hex(secret),
            name=name,
            now=now_ms(),
            expires_at=expires_at,
        )
        return NewToken(token_id, name, f"{TOKEN_PREFIX}{prefix}_{secret}", expires_at)

    def list_tokens(self, username: str | None) -> list[TokenRecord]:
        user_id = None if username is None else self.get_user(username).id
        return self.store.list_tokens(user_id)

    def revoke_token(self, username: str, *, name: str) -> None:
        self.store.delete_token(self.get_user(username).id, name=name)

    # -- sessions --------------------------------------------------------------
    def start_session(self, user: UserRecord) -> tuple[str, Session]:
        """A new session (never a caller-chosen id): (cookie value, session)."""
        value = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        now = now_ms()
        expires_at = now + self.session_seconds * 1000
        self.store.create_session(
            sha256_hex(value), user_id=user.id, csrf_token=csrf, now=now, expires_at=expires_at
        )
        return value, Session(user=user, csrf_token=csrf, expires_at=expires_at)

    def session(self, value: str) -> Session | None:
        if not value or len(value) > 256:
            return None
        id_hash = sha256_hex(value)
        record = self.store.get_session(id_hash)
        if record is None:
            return None
        if record.expires_at <= now_ms():
            self.store.delete_session(id_hash)
            return None
        user = self.store.get_user_by_id(record.user_id)
        if user is None or user.password_changed_at > record.created_at:
            self.store.delete_session(id_hash)
            return None
        return Session(user=user, csrf_token=record.csrf_token, expires_at=record.expires_at)

    def end_session(self, value: str) -> None:
        if value and len(value) <= 256:
            self.store.delete_session(sha256_hex(value))
