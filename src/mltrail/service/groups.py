"""Groups of users: a grant to a group is a grant to each of its members.

Admins manage groups (the CLI, the admin pages, ``/api/v1/groups``); whoever has MANAGE on
an experiment or registered model may grant it to a group
(:class:`mltrail.service.permissions.PermissionService`). Group names follow the rules of
user names, and a user's level is the highest of their own and their groups' grants.
"""

from __future__ import annotations

import re
from typing import Protocol

from mltrail.errors import InvalidParameterValue, ResourceDoesNotExist
from mltrail.service.auth import now_ms
from mltrail.store.schema_auth import GroupGrantRecord, GroupRecord, UserRecord

GROUP_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$")


class GroupStoreProtocol(Protocol):
    def create_group(self, name: str, *, now: int) -> GroupRecord: ...

    def delete_group(self, name: str) -> None: ...

    def list_groups(self, *, name: str | None = None) -> list[GroupRecord]: ...

    def get_group(self, name: str) -> GroupRecord | None: ...

    def groups_of_user(self, user_id: int) -> list[str]: ...

    def add_member(self, group_id: int, *, user_id: int) -> bool: ...

    def remove_member(self, group_id: int, *, user_id: int) -> bool: ...

    def get_user(self, username: str) -> UserRecord | None: ...

    def experiment_group_grants(
        self, *, experiment_id: int | None = None, group_id: int | None = None
    ) -> list[GroupGrantRecord]: ...

    def registered_model_group_grants(
        self, *, model_id: int | None = None, group_id: int | None = None
    ) -> list[GroupGrantRecord]: ...


def validate_group_name(name: str) -> str:
    if not isinstance(name, str) or not GROUP_NAME_RE.match(name):
        raise InvalidParameterValue(
            f"Invalid group name {name!r}: use 1-128 letters, digits and . _ @ + - "
            "(starting with a letter or digit)"
        )
    return name


class GroupService:
    def __init__(self, store: GroupStoreProtocol) -> None:
        self.store = store

    def create(self, name: str, members: list[str] | None = None) -> GroupRecord:
        """A new group, with ``members`` (users that must all exist) in it."""
        validate_group_name(name)
        users = [self._user(u) for u in members or []]
        group = self.store.create_group(name, now=now_ms())
        for user in users:
            self.store.add_member(group.id, user_id=user.id)
        return self.get(name)

    def delete(self, name: str) -> None:
        self.store.delete_group(name)

    def all(self) -> list[GroupRecord]:
        return self.store.list_groups()

    def get(self, name: str) -> GroupRecord:
        group = self.store.get_group(name)
        if group is None:
            raise ResourceDoesNotExist(f"Group '{name}' not found")
        return group

    def _user(self, username: str) -> UserRecord:
        user = self.store.get_user(username)
        if user is None:
            raise ResourceDoesNotExist(f"User with username={username} not found")
        return user

    def add(self, name: str, usernames: list[str]) -> list[str]:
        """Add users (all must exist); returns those who were not members yet."""
        group = self.get(name)
        users = [self._user(u) for u in usernames]
        return [u.username for u in users if self.store.add_member(group.id, user_id=u.id)]

    def remove(self, name: str, usernames: list[str]) -> list[str]:
        """Remove users; returns those who were members."""
        group = self.get(name)
        users = [self._user(u) for u in usernames]
        return [u.username for u in users if self.store.remove_member(group.id, user_id=u.id)]

    def groups_of(self, username: str) -> list[str]:
        return self.store.groups_of_user(self._user(username).id)

    def grants(self, name: str) -> tuple[list[GroupGrantRecord], list[GroupGrantRecord]]:
        """(experiment grants, registered-model grants) of the group."""
        group = self.get(name)
        return (
            self.store.experiment_group_grants(group_id=group.id),
            self.store.registered_model_group_grants(group_id=group.id),
        )
