"""Groups and their grants, the experiments' "everyone signed in" switch, and the flag of a
weak imported password that must be changed at the next login.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _fk(column: str, target: str, name: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [target], ondelete="CASCADE", name=name)


def upgrade() -> None:
    # A plain ADD COLUMN on every backend (a batch copy of users on SQLite would cascade
    # the deletion of the old table into sessions, tokens and grants).
    op.add_column(
        "users",
        sa.Column("must_change_password", sa.Boolean(), nullable=False, server_default="0"),
    )
    op.create_table(
        "groups",
        sa.Column("id", sa.Integer(), nullable=False, autoincrement=True),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_groups"),
        sa.UniqueConstraint("name", name="uq_groups_name"),
    )
    op.create_table(
        "group_members",
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("group_id", "user_id", name="pk_group_members"),
        _fk("group_id", "groups.id", "fk_group_members_group_id"),
        _fk("user_id", "users.id", "fk_group_members_user_id"),
    )
    op.create_index("ix_group_members_user", "group_members", ["user_id", "group_id"])
    op.create_table(
        "experiment_group_permissions",
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.SmallInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "experiment_id", "group_id", name="pk_experiment_group_permissions"
        ),
        _fk("experiment_id", "experiments.experiment_id", "fk_exp_group_perms_experiment"),
        _fk("group_id", "groups.id", "fk_exp_group_perms_group"),
    )
    op.create_index(
        "ix_experiment_group_permissions_group",
        "experiment_group_permissions",
        ["group_id", "experiment_id"],
    )
    op.create_table(
        "registered_model_group_permissions",
        sa.Column("registered_model_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.SmallInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "registered_model_id", "group_id", name="pk_registered_model_group_permissions"
        ),
        _fk("registered_model_id", "registered_models.id", "fk_rm_group_perms_model"),
        _fk("group_id", "groups.id", "fk_rm_group_perms_group"),
    )
    op.create_index(
        "ix_registered_model_group_permissions_group",
        "registered_model_group_permissions",
        ["group_id", "registered_model_id"],
    )
    op.create_table(
        "experiment_signed_in_permissions",
        sa.Column("experiment_id", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("level", sa.SmallInteger(), nullable=False),
        sa.PrimaryKeyConstraint("experiment_id", name="pk_experiment_signed_in_permissions"),
        _fk("experiment_id", "experiments.experiment_id", "fk_exp_signed_in_experiment"),
    )


def downgrade() -> None:
    for table in (
        "experiment_signed_in_permissions",
        "registered_model_group_permissions",
        "experiment_group_permissions",
        "group_members",
        "groups",
    ):
        op.drop_table(table)
    op.drop_column("users", "must_change_password")
