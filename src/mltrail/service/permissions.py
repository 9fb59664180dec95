"""Who may do what: permission levels, the request's principal, and the effective level.

Levels are ordered: ``NONE < READ < EDIT < MANAGE``; admins may do everything. A user's
level on an experiment or registered model is their explicit grant if there is one, else
the server's default permission. The creator of an experiment or registered model is
granted MANAGE.

The principal of the current request lives in a context variable set by the server's
authentication layer; it follows the request into worker threads. The authorized
services (:mod:`mltrail.service.authorized`) read it on every call.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Protocol

from mltrail.errors import InvalidParameterValue, PermissionDenied, ResourceDoesNotExist
from mltrail.store.schema_auth import GrantRecord, UserRecord


class Level(enum.IntEnum):
    NONE = 0
    READ = 1
    EDIT = 2
    MANAGE = 3

    @classmethod
    def parse(cls, text: object) -> Level:
        name = str(text).strip().upper()
        aliases = {"NO_PERMISSIONS": "NONE", "NO_PERMISSION": "NONE"}
        name = aliases.get(name, name)
        if name not in cls.__members__:
            raise InvalidParameterValue(
                f"Invalid permission {text!r}; expected one of NONE, READ, EDIT, MANAGE"
            )
        return cls[name]

    @property
    def mlflow_name(self) -> str:
        return "NO_PERMISSIONS" if self is Level.NONE else self.name


@dataclass(frozen=True)
class Principal:
    """The authenticated caller. ``user_id`` is None only for the no-auth superuser."""

    user_id: int | None
    username: str
    is_admin: bool

    @property
    def unrestricted(self) -> bool:
        return self.is_admin


# Used by a server running with --no-auth and by in-process callers (CLI, local client).
UNRESTRICTED = Principal(user_id=None, username="", is_admin=True)

_current: ContextVar[Principal | None] = ContextVar("mltrail_principal", default=None)


def current_principal() -> Principal | None:
    return _current.get()


def set_principal(principal: Principal | None) -> object:
    return _current.set(principal)


def reset_principal(token: object) -> None:
    _current.reset(token)  # type: ignore[arg-type]


@contextmanager
def acting_as(principal: Principal | None) -> Iterator[None]:
    token = _current.set(principal)
    try:
        yield
    finally:
        _current.reset(token)


class GrantStore(Protocol):
    def experiment_level(self, user_id: int, experiment_id: int) -> int | None: ...

    def registered_model_level(self, user_id: int, model_id: int) -> int | None: ...

    def set_experiment_level(self, experiment_id: int, *, user_id: int, level: int) -> None: ...

    def set_registered_model_level(self, model_id: int, *, user_id: int, level: int) -> None: ...

    def delete_experiment_level(self, experiment_id: int, *, user_id: int) -> bool: ...

    def delete_registered_model_level(self, model_id: int, *, user_id: int) -> bool: ...

    def experiment_grants(
        self, *, experiment_id: int | None = None, user_id: int | None = None
    ) -> list[GrantRecord]: ...

    def registered_model_grants(
        self, *, model_id: int | None = None, user_id: int | None = None
    ) -> list[GrantRecord]: ...

    def experiment_of_run(self, run_id: str) -> int | None: ...

    def experiment_of_logged_model(self, model_id: str) -> int | None: ...

    def registered_model_id(self, name: str) -> int | None: ...

    def get_user(self, username: str) -> UserRecord | None: ...


# The exact messages of the stores' not-found errors: a resource the caller may not see
# answers exactly like one that does not exist.
def experiment_not_found(experiment_id: object) -> ResourceDoesNotExist:
    return ResourceDoesNotExist(f"No Experiment with id={experiment_id} exists")


def run_not_found(run_id: object) -> ResourceDoesNotExist:
    return ResourceDoesNotExist(f"Run with id={run_id} not found")


def logged_model_not_found(model_id: object) -> ResourceDoesNotExist:
    return ResourceDoesNotExist(f"Logged model with ID '{model_id}' not found.")


def registered_model_not_found(name: object) -> ResourceDoesNotExist:
    return ResourceDoesNotExist(f"Registered Model with name={name} not found")


def parse_experiment_key(experiment_id: object) -> int | None:
    text = str(experiment_id).strip()
    if not text.isdigit() or len(text) > 18:
        return None
    return int(text)


class PermissionService:
    """Effective levels and grants over a :class:`GrantStore`."""

    def __init__(self, *, store: GrantStore, default_level: Level) -> None:
        self.store = store
        self.default_level = default_level

    # -- effective levels --------------------------------------------------
    def experiment_level(self, principal: Principal, experiment_id: int) -> Level:
        if principal.is_admin:
            return Level.MANAGE
        assert principal.user_id is not None
        level = self.store.experiment_level(principal.user_id, experiment_id)
        return self.default_level if level is None else Level(level)

    def registered_model_level(self, principal: Principal, model_id: int) -> Level:
        if principal.is_admin:
            return Level.MANAGE
        assert principal.user_id is not None
        level = self.store.registered_model_level(principal.user_id, model_id)
        return self.default_level if level is None else Level(level)

    def readable_by(self, principal: Principal) -> tuple[int, int] | None:
        """The ``readable_by`` argument of store searches (None: everything is readable)."""
        if principal.is_admin:
            return None
        assert principal.user_id is not None
        return (principal.user_id, int(self.default_level))

    # -- checks ------------------------------------------------------------
    def require_experiment(self, principal: Principal, experiment_id: object, need: Level) -> int:
        """The experiment's key if the principal has ``need`` on it; else not-found or 403."""
        key = parse_experiment_key(experiment_id)
        if key is None:
            raise experiment_not_found(experiment_id)
        if principal.is_admin:
            return key
        have = self.experiment_level(principal, key)
        _check(have, need, experiment_not_found(experiment_id))
        return key

    def require_registered_model(self, principal: Principal, name: str, need: Level) -> None:
        if principal.is_admin:
            return
        model_id = self.store.registered_model_id(name)
        if model_id is None:
            return  # the service answers not-found (or creates it) itself
        _check(
            self.registered_model_level(principal, model_id), need, registered_model_not_found(name)
        )

    # -- grants ------------------------------------------------------------
    def grant_creator_experiment(self, principal: Principal, experiment_id: str) -> None:
        key = parse_experiment_key(experiment_id)
        if principal.user_id is not None and key is not None:
            self.store.set_experiment_level(key, user_id=principal.user_id, level=Level.MANAGE)

    def grant_creator_registered_model(self, principal: Principal, name: str) -> None:
        model_id = self.store.registered_model_id(name)
        if principal.user_id is not None and model_id is not None:
            self.store.set_registered_model_level(
                model_id, user_id=principal.user_id, level=Level.MANAGE
            )

    def _user(self, username: str) -> UserRecord:
        user = self.store.get_user(username)
        if user is None:
            raise ResourceDoesNotExist(f"User with username={username} not found")
        return user

    def set_experiment_grant(
        self, principal: Principal, experiment_id: object, *, username: str, level: Level
    ) -> GrantRecord:
        key = self.require_experiment(principal, experiment_id, Level.MANAGE)
        user = self._user(username)
        self.store.set_experiment_level(key, user_id=user.id, level=int(level))
        return GrantRecord(str(key), user.id, user.username, int(level))

    def get_experiment_grant(
        self, principal: Principal, experiment_id: object, *, username: str
    ) -> GrantRecord:
        key = self.require_experiment(principal, experiment_id, Level.MANAGE)
        user = self._user(username)
        for grant in self.store.experiment_grants(experiment_id=key, user_id=user.id):
            return grant
        raise ResourceDoesNotExist(
            f"Experiment permission with experiment_id={key} and username={username} not found"
        )

    def delete_experiment_grant(
        self, principal: Principal, experiment_id: object, *, username: str
    ) -> None:
        key = self.require_experiment(principal, experiment_id, Level.MANAGE)
        user = self._user(username)
        if not self.store.delete_experiment_level(key, user_id=user.id):
            raise ResourceDoesNotExist(
                f"Experiment permission with experiment_id={key} and username={username} not found"
            )

    def model_id_for_manage(self, principal: Principal, name: str) -> int:
        model_id = self.store.registered_model_id(name)
        if model_id is None:
            raise registered_model_not_found(name)
        if not principal.is_admin:
            have = self.registered_model_level(principal, model_id)
            _check(have, Level.MANAGE, registered_model_not_found(name))
        return model_id

    def set_registered_model_grant(
        self, principal: Principal, name: str, *, username: str, level: Level
    ) -> GrantRecord:
        model_id = self.model_id_for_manage(principal, name)
        user = self._user(username)
        self.store.set_registered_model_level(model_id, user_id=user.id, level=int(level))
        return GrantRecord(name, user.id, user.username, int(level))

    def get_registered_model_grant(
        self, principal: Principal, name: str, *, username: str
    ) -> GrantRecord:
        model_id = self.model_id_for_manage(principal, name)
        user = self._user(username)
        for grant in self.store.registered_model_grants(model_id=model_id, user_id=user.id):
            return grant
        raise ResourceDoesNotExist(
            f"Registered model permission with name={name} and username={username} not found"
        )

    def delete_registered_model_grant(
        self, principal: Principal, name: str, *, username: str
    ) -> None:
        model_id = self.model_id_for_manage(principal, name)
        user = self._user(username)
        if not self.store.delete_registered_model_level(model_id, user_id=user.id):
            raise ResourceDoesNotExist(
                f"Registered model permission with name={name} and username={username} not found"
            )


def _check(have: Level, need: Level, not_found: ResourceDoesNotExist) -> None:
    if have >= need:
        return
    # Someone who cannot even see a resource learns nothing about it.
    if have < Level.READ:
        raise not_found
    raise PermissionDenied("Permission denied")
