"""SQL tables of users, API tokens, browser sessions and per-resource permissions.

They live on the same ``metadata`` as the tracking tables (one database, one migration
history). Secrets are never stored: passwords as argon2id (or imported bcrypt) hashes,
token secrets and session ids as SHA-256 digests.

Permission levels are small integers (``0`` none, ``1`` read, ``2`` edit, ``3`` manage)
so that "at least READ" is a comparison inside SQL searches.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    and_,
    exists,
    not_,
    or_,
    select,
)

import mltrail.store.schema_models  # noqa: F401  (registered_models must exist on metadata)
from mltrail.store.schema import metadata

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(256), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("is_admin", Boolean, nullable=False, server_default="0"),
    Column("created_at", BigInteger, nullable=False),
    # Bumped on password change: sessions issued before it are void.
    Column("password_changed_at", BigInteger, nullable=False),
    # A weak imported password: the user must choose a new one before doing anything else.
    Column("must_change_password", Boolean, nullable=False, server_default="0"),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # The public, random lookup part of the token ("mlt_<prefix>_<secret>").
    Column("prefix", String(32), nullable=False, unique=True),
    Column("secret_hash", String(64), nullable=False),
    Column(
        "user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    Column("name", String(256), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=True),
    Column("last_used_at", BigInteger, nullable=True),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column(
        "user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
)

experiment_permissions = Table(
    "experiment_permissions",
    metadata,
    Column(
        "experiment_id",
        Integer,
        ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("level", SmallInteger, nullable=False),
    PrimaryKeyConstraint("experiment_id", "user_id"),
    Index("ix_experiment_permissions_user", "user_id", "experiment_id"),
)

registered_model_permissions = Table(
    "registered_model_permissions",
    metadata,
    # Keyed by the model's row id, not its name: a rename keeps the grants.
    Column(
        "registered_model_id",
        Integer,
        # The conventional name is past MySQL's 64-character limit.
        ForeignKey("registered_models.id", ondelete="CASCADE", name="fk_rm_permissions_model_id"),
        nullable=False,
    ),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("level", SmallInteger, nullable=False),
    PrimaryKeyConstraint("registered_model_id", "user_id"),
    Index("ix_registered_model_permissions_user", "user_id", "registered_model_id"),
)


groups = Table(
    "groups",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(256), nullable=False, unique=True),
    Column("created_at", BigInteger, nullable=False),
)

group_members = Table(
    "group_members",
    metadata,
    Column(
        "group_id",
        Integer,
        ForeignKey("groups.id", ondelete="CASCADE", name="fk_group_members_group_id"),
        nullable=False,
    ),
    Column(
        "user_id",
        Integer,
        ForeignKey("users.id", ondelete="CASCADE", name="fk_group_members_user_id"),
        nullable=False,
    ),
    PrimaryKeyConstraint("group_id", "user_id"),
    Index("ix_group_members_user", "user_id", "group_id"),
)

experiment_group_permissions = Table(
    "experiment_group_permissions",
    metadata,
    Column(
        "experiment_id",
        Integer,
        ForeignKey(
            "experiments.experiment_id", ondelete="CASCADE", name="fk_exp_group_perms_experiment"
        ),
        nullable=False,
    ),
    Column(
        "group_id",
        Integer,
        ForeignKey("groups.id", ondelete="CASCADE", name="fk_exp_group_perms_group"),
        nullable=False,
    ),
    Column("level", SmallInteger, nullable=False),
    PrimaryKeyConstraint("experiment_id", "group_id"),
    Index("ix_experiment_group_permissions_group", "group_id", "experiment_id"),
)

registered_model_group_permissions = Table(
    "registered_model_group_permissions",
    metadata,
    Column(
        "registered_model_id",
        Integer,
        ForeignKey("registered_models.id", ondelete="CASCADE", name="fk_rm_group_perms_model"),
        nullable=False,
    ),
    Column(
        "group_id",
        Integer,
        ForeignKey("groups.id", ondelete="CASCADE", name="fk_rm_group_perms_group"),
        nullable=False,
    ),
    Column("level", SmallInteger, nullable=False),
    PrimaryKeyConstraint("registered_model_id", "group_id"),
    Index("ix_registered_model_group_permissions_group", "group_id", "registered_model_id"),
)

# The experiment-wide switch "everyone signed in may READ / EDIT": one row per experiment
# that has it; a row of level 0 records that an admin turned it off (see the Default
# experiment in mltrail.service.permissions).
experiment_signed_in_permissions = Table(
    "experiment_signed_in_permissions",
    metadata,
    Column(
        "experiment_id",
        Integer,
        ForeignKey(
            "experiments.experiment_id", ondelete="CASCADE", name="fk_exp_signed_in_experiment"
        ),
        primary_key=True,
        autoincrement=False,
    ),
    Column("level", SmallInteger, nullable=False),
)


def readable_clause(
    resource_column: Any,
    *,
    table: Any,
    group_table: Any,
    key: str,
    user_id: int,
    default_level: int,
    signed_in_table: Any = None,
) -> Any:
    """SQL condition "the user may read the row whose id is ``resource_column``".

    The rule of :class:`mltrail.service.permissions.PermissionService`: the user's own grant
    (or, without one, the server's default permission: a grant of NONE hides a resource
    even when the default is READ), a grant to one of the user's groups, or the
    experiment's "everyone signed in" switch.
    """
    grant = and_(table.c[key] == resource_column, table.c.user_id == user_id)
    my_groups = select(group_members.c.group_id).where(group_members.c.user_id == user_id)
    conditions: list[Any] = [
        exists().where(grant, table.c.level >= 1),
        exists().where(
            group_table.c[key] == resource_column,
            group_table.c.level >= 1,
            group_table.c.group_id.in_(my_groups),
        ),
    ]
    if signed_in_table is not None:
        conditions.append(
            exists().where(
                signed_in_table.c.experiment_id == resource_column, signed_in_table.c.level >= 1
            )
        )
    if default_level >= 1:
        conditions.append(not_(exists().where(grant)))
    return or_(*conditions)


def experiment_readable(column: Any, *, user_id: int, default_level: int) -> Any:
    return readable_clause(
        column,
        table=experiment_permissions,
        group_table=experiment_group_permissions,
        signed_in_table=experiment_signed_in_permissions,
        key="experiment_id",
        user_id=user_id,
        default_level=default_level,
    )


def registered_model_readable(column: Any, *, user_id: int, default_level: int) -> Any:
    return readable_clause(
        column,
        table=registered_model_permissions,
        group_table=registered_model_group_permissions,
        key="registered_model_id",
        user_id=user_id,
        default_level=default_level,
    )


@dataclass(frozen=True)
class UserRecord:
    id: int
    username: str
    password_hash: str
    is_admin: bool
    created_at: int
    password_changed_at: int
    must_change_password: bool = False


@dataclass(frozen=True)
class TokenRecord:
    id: int
    prefix: str
    secret_hash: str
    user_id: int
    username: str
    name: str
    created_at: int
    expires_at: int | None
    last_used_at: int | None


@dataclass(frozen=True)
class SessionRecord:
    user_id: int
    csrf_token: str
    created_at: int
    expires_at: int


@dataclass(frozen=True)
class GrantRecord:
    """One explicit grant: ``resource`` is an experiment id or a registered model's name."""

    resource: str
    user_id: int
    username: str
    level: int


@dataclass(frozen=True)
class GroupRecord:
    id: int
    name: str
    created_at: int
    members: tuple[str, ...] = ()


@dataclass(frozen=True)
class GroupGrantRecord:
    """One grant to a group: ``resource`` is an experiment id or a registered model's name."""

    resource: str
    group_id: int
    group: str
    level: int


@dataclass(frozen=True)
class FailureCounts:
    """Failures inside the window: of this (user, address), of the user, of the address, and
    the oldest of each of the first and third (ms; 0 when there is none)."""

    pair: int = 0
    user: int = 0
    address: int = 0
    pair_oldest: int = 0
    address_oldest: int = 0


# -- login throttling, shared by every server process on the database -------------------
# One row per failed login; rows older than the throttle's window are pruned as new ones
# come in. ``address`` is the client address the server saw (an IPv6 client by its /64).
login_failures = Table(
    "login_failures",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("username", String(256), nullable=False),
    Column("address", String(64), nullable=False),
    Column("failed_at", BigInteger, nullable=False),
    Index("ix_login_failures_username", "username", "failed_at"),
    Index("ix_login_failures_address", "address", "failed_at"),
)

# A user past the throttle's ceiling gets one password try per interval from addresses that
# already failed for it: the next moment (ms) such a try is allowed, claimed atomically.
login_slots = Table(
    "login_slots",
    metadata,
    Column("username", String(256), primary_key=True),
    Column("next_at", BigInteger, nullable=False),
)
