"""The two kinds of resource that carry per-user grants, as the permission endpoints see them.

Experiments and registered models have the same grant endpoints in both APIs (MLflow's
basic-auth API and /api/v1); a :class:`GrantKind` names what differs between the two, so
each endpoint's logic is written once for both kinds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from mltrail.service.permissions import Level, PermissionService, Principal, parse_experiment_key
from mltrail.store.schema_auth import GrantRecord, GroupGrantRecord


class _SetGrant(Protocol):
    def __call__(
        self,
        perms: PermissionService,
        principal: Principal,
        resource: str,
        /,
        *,
        username: str,
        level: Level,
    ) -> GrantRecord: ...


class _SetGroupGrant(Protocol):
    def __call__(
        self,
        perms: PermissionService,
        principal: Principal,
        resource: str,
        /,
        *,
        group: str,
        level: Level,
    ) -> GroupGrantRecord: ...


class _DeleteGroupGrant(Protocol):
    def __call__(
        self, perms: PermissionService, principal: Principal, resource: str, /, *, group: str
    ) -> None: ...


class _UserGrant(Protocol):
    def __call__(
        self, perms: PermissionService, principal: Principal, resource: str, /, *, username: str
    ) -> Any: ...


@dataclass(frozen=True)
class GrantKind:
    """What tells experiment grants and registered-model grants apart."""

    # The resource's field in requests and in MLflow's grant JSON.
    key: str
    # The object MLflow wraps one grant in.
    mlflow_field: str
    set: _SetGrant
    get: _UserGrant
    delete: _UserGrant
    # Every grant on one resource, once the caller's MANAGE on it is checked.
    listing: Callable[[PermissionService, Principal, str], list[GrantRecord]]
    set_group: _SetGroupGrant
    delete_group: _DeleteGroupGrant
    # The groups' grants on one resource (after ``listing`` checked MANAGE).
    group_listing: Callable[[PermissionService, str], list[GroupGrantRecord]]

    def mlflow_json(self, grant: GrantRecord) -> dict[str, Any]:
        """One grant as MLflow's basic-auth API writes it (inside users and on its own)."""
        return {
            self.key: grant.resource,
            "user_id": grant.user_id,
            "permission": Level(grant.level).mlflow_name,
        }


def _experiment_grants(
    perms: PermissionService, principal: Principal, experiment_id: str
) -> list[GrantRecord]:
    key = perms.require_experiment(principal, experiment_id, Level.MANAGE)
    return perms.store.experiment_grants(experiment_id=key)


def _registered_model_grants(
    perms: PermissionService, principal: Principal, name: str
) -> list[GrantRecord]:
    model_id = perms.model_id_for_manage(principal, name)
    return perms.store.registered_model_grants(model_id=model_id)


def _experiment_group_grants(
    perms: PermissionService, experiment_id: str
) -> list[GroupGrantRecord]:
    key = parse_experiment_key(experiment_id)
    return [] if key is None else perms.store.experiment_group_grants(experiment_id=key)


def _registered_model_group_grants(perms: PermissionService, name: str) -> list[GroupGrantRecord]:
    model_id = perms.store.registered_model_id(name)
    return [] if model_id is None else perms.store.registered_model_group_grants(model_id=model_id)


EXPERIMENT = GrantKind(
    key="experiment_id",
    mlflow_field="experiment_permission",
    set=PermissionService.set_experiment_grant,
    get=PermissionService.get_experiment_grant,
    delete=PermissionService.delete_experiment_grant,
    listing=_experiment_grants,
    set_group=PermissionService.set_experiment_group_grant,
    delete_group=PermissionService.delete_experiment_group_grant,
    group_listing=_experiment_group_grants,
)

REGISTERED_MODEL = GrantKind(
    key="name",
    mlflow_field="registered_model_permission",
    set=PermissionService.set_registered_model_grant,
    get=PermissionService.get_registered_model_grant,
    delete=PermissionService.delete_registered_model_grant,
    listing=_registered_model_grants,
    set_group=PermissionService.set_registered_model_group_grant,
    delete_group=PermissionService.delete_registered_model_group_grant,
    group_listing=_registered_model_group_grants,
)
