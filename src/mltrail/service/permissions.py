"""Who may do what: permission levels, the request's principal, and the effective level.

Levels are ordered: ``NONE < READ < EDIT < MANAGE``; admins may do everything. A user's
level on an experiment or registered model is the highest of:

* their own grant if they have one, else the server's default permission (so a grant of
  NONE keeps the default away from that user);
* the grants of the groups they belong to;
* for an experiment, its "everyone signed in" switch (READ or EDIT).

The creator of an experiment or registered model is granted MANAGE. The Default
experiment (id 0, where runs go when a script names no experiment) is shared with
everyone signed in at EDIT when the server first starts with authentication; an admin
may turn that off, and it stays off.

The principal of the current request lives in a context variable set by the server's
authentication layer; it follows the request into worker threads. The authorized
services (:mod:`mltrail.service.authorized`) read it on every call.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Protocol

from mltrail.errors import InvalidParameterValue, PermissionDenied, ResourceDoesNotExist
from mltrail.service.permission_messages import (
    default_experiment_denied,
    denied,
    experiment_not_found,
    logged_model_not_found,
    registered_model_not_found,
    run_not_found,
)
from mltrail.store.schema_auth import GrantRecord, GroupGrantRecord, GroupRecord, UserRecord

DEFAULT_EXPERIMENT_ID = 0
# What the "everyone signed in" switch may give (MANAGE stays with named users and groups).
SIGNED_IN_LEVELS = ("NONE", "READ", "EDIT")


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


class Access(Protocol):
    @property
    def user(self) -> int | None: ...

    @property
    def group(self) -> int | None: ...

    @property
    def signed_in(self) -> int | None: ...


class GrantStore(Protocol):
    def experiment_level(self, user_id: int, experiment_id: int) -> int | None: ...

    def registered_model_level(self, user_id: int, model_id: int) -> int | None: ...

    def experiment_access(self, user_id: int, experiment_id: int) -> Access: ...

    def registered_model_access(self, user_id: int, model_id: int) -> Access: ...

    def experiment_name(self, experiment_id: int) -> str | None: ...

    def get_group(self, name: str) -> GroupRecord | None: ...

    def set_experiment_group_level(
        self, experiment_id: int, *, group_id: int, level: int
    ) -> None: ...

    def set_registered_model_group_level(
        self, model_id: int, *, group_id: int, level: int
    ) -> None: ...

    def delete_experiment_group_level(self, experiment_id: int, *, group_id: int) -> bool: ...

    def delete_registered_model_group_level(self, model_id: int, *, group_id: int) -> bool: ...

    def experiment_group_grants(
        self, *, experiment_id: int | None = None, group_id: int | None = None
    ) -> list[GroupGrantRecord]: ...

    def registered_model_group_grants(
        self, *, model_id: int | None = None, group_id: int | None = None
    ) -> list[GroupGrantRecord]: ...

    def experiment_signed_in_level(self, experiment_id: int) -> int | None: ...

    def experiment_signed_in_levels(self) -> dict[str, int]: ...

    def set_experiment_signed_in_level(
        self, experiment_id: int, *, level: int, only_if_unset: bool = False
    ) -> bool: ...

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
    def effective(self, access: Access) -> Level:
        own = self.default_level if access.user is None else Level(access.user)
        return Level(max(own, access.group or 0, access.signed_in or 0))

    def experiment_level(self, principal: Principal, experiment_id: int) -> Level:
        if principal.is_admin:
            return Level.MANAGE
        assert principal.user_id is not None
        return self.effective(self.store.experiment_access(principal.user_id, experiment_id))

    def registered_model_level(self, principal: Principal, model_id: int) -> Level:
        if principal.is_admin:
            return Level.MANAGE
        assert principal.user_id is not None
        return self.effective(self.store.registered_model_access(principal.user_id, model_id))

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
        if have < Level.READ and key == DEFAULT_EXPERIMENT_ID:
            # Everyone knows the Default experiment exists: say what is wrong.
            raise default_experiment_denied(principal)
        _check(
            have,
            need,
            experiment_not_found(experiment_id),
            what=lambda: self._experiment_label(key),
            who=principal,
        )
        return key

    def _experiment_label(self, key: int) -> str:
        name = self.store.experiment_name(key)
        return f"experiment {name!r} (id {key})" if name is not None else f"experiment {key}"

    def require_registered_model(self, principal: Principal, name: str, need: Level) -> None:
        if principal.is_admin:
            return
        model_id = self.store.registered_model_id(name)
        if model_id is None:
            return  # the service answers not-found (or creates it) itself
        _check(
            self.registered_model_level(principal, model_id),
            need,
            registered_model_not_found(name),
            what=lambda: f"registered model {name!r}",
            who=principal,
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
            _check(
                have,
                Level.MANAGE,
                registered_model_not_found(name),
                what=lambda: f"registered model {name!r}",
                who=principal,
            )
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

    # -- groups and the switch --------------------------------------------------
    def _group(self, name: str) -> GroupRecord:
        group = self.store.get_group(name)
        if group is None:
            raise ResourceDoesNotExist(f"Group '{name}' not found")
        return group

    def set_experiment_group_grant(
        self, principal: Principal, experiment_id: object, *, group: str, level: Level
    ) -> GroupGrantRecord:
        key = self.require_experiment(principal, experiment_id, Level.MANAGE)
        found = self._group(group)
        if level is Level.NONE:
            raise InvalidParameterValue("A group is granted READ, EDIT or MANAGE; revoke instead")
        self.store.set_experiment_group_level(key, group_id=found.id, level=int(level))
        return GroupGrantRecord(str(key), found.id, found.name, int(level))

    def delete_experiment_group_grant(
        self, principal: Principal, experiment_id: object, *, group: str
    ) -> None:
        key = self.require_experiment(principal, experiment_id, Level.MANAGE)
        if not self.store.delete_experiment_group_level(key, group_id=self._group(group).id):
            raise ResourceDoesNotExist(f"Group '{group}' has no grant on experiment {key}")

    def set_registered_model_group_grant(
        self, principal: Principal, name: str, *, group: str, level: Level
    ) -> GroupGrantRecord:
        model_id = self.model_id_for_manage(principal, name)
        found = self._group(group)
        if level is Level.NONE:
            raise InvalidParameterValue("A group is granted READ, EDIT or MANAGE; revoke instead")
        self.store.set_registered_model_group_level(model_id, group_id=found.id, level=int(level))
        return GroupGrantRecord(name, found.id, found.name, int(level))

    def delete_registered_model_group_grant(
        self, principal: Principal, name: str, *, group: str
    ) -> None:
        model_id = self.model_id_for_manage(principal, name)
        if not self.store.delete_registered_model_group_level(
            model_id, group_id=self._group(group).id
        ):
            raise ResourceDoesNotExist(f"Group '{group}' has no grant on registered model {name}")

    def set_experiment_signed_in(
        self, principal: Principal, experiment_id: object, *, level: Level
    ) -> None:
        """The experiment's "everyone signed in may READ / EDIT" switch (NONE: off)."""
        key = self.require_experiment(principal, experiment_id, Level.MANAGE)
        if level.name not in SIGNED_IN_LEVELS:
            raise InvalidParameterValue(
                "Everyone signed in may get READ or EDIT (NONE turns it off); "
                "grant MANAGE to users or groups"
            )
        self.store.set_experiment_signed_in_level(key, level=int(level))

    def share_default_experiment(self) -> bool:
        """Open the Default experiment to everyone signed in (EDIT), unless that was decided
        before (an admin who turned it off keeps it off). Whether it was opened now."""
        try:
            return self.store.set_experiment_signed_in_level(
                DEFAULT_EXPERIMENT_ID, level=int(Level.EDIT), only_if_unset=True
            )
        except ResourceDoesNotExist:
            return False  # no Default experiment in this database

    def sharing(self, principal: Principal, experiment_id: object) -> Sharing:
        """Everything that decides who may use an experiment (for its managers)."""
        key = self.require_experiment(principal, experiment_id, Level.MANAGE)
        signed_in = self.store.experiment_signed_in_level(key)
        return Sharing(
            experiment_id=str(key),
            users=self.store.experiment_grants(experiment_id=key),
            groups=self.store.experiment_group_grants(experiment_id=key),
            signed_in=Level(signed_in or 0),
            default=self.default_level,
        )


@dataclass(frozen=True)
class Sharing:
    experiment_id: str
    users: list[GrantRecord]
    groups: list[GroupGrantRecord]
    signed_in: Level
    default: Level

    def others(self) -> Level:
        """The level of a signed-in user with no grant of their own nor of a group."""
        return Level(max(self.default, self.signed_in))


def _check(
    have: Level,
    need: Level,
    not_found: ResourceDoesNotExist,
    *,
    what: Callable[[], str] | None = None,
    who: Principal | None = None,
) -> None:
    if have >= need:
        return
    # Someone who cannot even see a resource learns nothing about it.
    if have < Level.READ:
        raise not_found
    if what is None or who is None:
        raise PermissionDenied("Permission denied")
    raise denied(who, have=have, need=need, what=what())


__all__ = [
    "DEFAULT_EXPERIMENT_ID",
    "UNRESTRICTED",
    "Level",
    "PermissionService",
    "Principal",
    "Sharing",
    "acting_as",
    "current_principal",
    "experiment_not_found",
    "logged_model_not_found",
    "parse_experiment_key",
    "registered_model_not_found",
    "reset_principal",
    "run_not_found",
    "set_principal",
]
