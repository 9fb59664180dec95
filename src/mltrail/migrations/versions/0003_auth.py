"""Users, API tokens, browser sessions and per-resource permissions.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _user_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["user_id"], ["users.id"], ondelete="CASCADE", name=f"fk_{table}_user_id_users"
    )


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False, autoincrement=True),
        sa.Column("username", sa.String(256), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("is_admin", sa.Boolean(), nullable=False, server_default="0"),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("password_changed_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("username", name="uq_users_username"),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False, autoincrement=True),
        sa.Column("prefix", sa.String(32), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=True),
        sa.Column("last_used_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_tokens"),
        sa.UniqueConstraint("prefix", name="uq_api_tokens_prefix"),
        _user_fk("api_tokens"),
    )
    op.create_index("ix_api_tokens_user_id", "api_tokens", ["user_id"])
    op.create_table(
        "sessions",
        sa.Column("id_hash", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id_hash", name="pk_sessions"),
        _user_fk("sessions"),
    )
    op.create_index("ix_sessions_user_id", "sessions", ["user_id"])
    op.create_table(
        "experiment_permissions",
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.SmallInteger(), nullable=False),
        sa.PrimaryKeyConstraint("experiment_id", "user_id", name="pk_experiment_permissions"),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.experiment_id"],
            ondelete="CASCADE",
            name="fk_experiment_permissions_experiment_id_experiments",
        ),
        _user_fk("experiment_permissions"),
    )
    op.create_index(
        "ix_experiment_permissions_user", "experiment_permissions", ["user_id", "experiment_id"]
    )
    op.create_table(
        "registered_model_permissions",
        sa.Column("registered_model_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.SmallInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "registered_model_id", "user_id", name="pk_registered_model_permissions"
        ),
        sa.ForeignKeyConstraint(
            ["registered_model_id"],
            ["registered_models.id"],
            ondelete="CASCADE",
            name="fk_rm_permissions_model_id",
        ),
        _user_fk("registered_model_permissions"),
    )
    op.create_index(
        "ix_registered_model_permissions_user",
        "registered_model_permissions",
        ["user_id", "registered_model_id"],
    )


def downgrade() -> None:
    for table in (
        "registered_model_permissions",
        "experiment_permissions",
        "sessions",
        "api_tokens",
        "users",
    ):
        op.drop_table(table)
