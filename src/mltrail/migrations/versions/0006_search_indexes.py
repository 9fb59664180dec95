"""Indexes for filtered run search: params and tags by (key, value).

A filter such as ``params.solver = 'lbfgs'`` finds its runs through these instead of
checking every run of the experiment. Values are indexed on their first 200 characters
(see ``mltrail.store.schema.VALUE_PREFIX``): an expression index on
``substr(value, 1, 200)`` on SQLite and PostgreSQL, a prefix index on MySQL/MariaDB.

Additive only: no table or column changes, so a server of the previous version that is
still running on the database (a replica during a rolling upgrade) keeps reading and
writing it. Creating the indexes reads each table once; on PostgreSQL writes to params
and tags wait until it is done.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# Frozen copy of mltrail.store.schema.VALUE_PREFIX at this revision.
VALUE_PREFIX = 200
TABLES = ("params", "tags")


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table in TABLES:
        name = f"ix_{table}_key_value"
        if dialect in ("mysql", "mariadb"):
            op.create_index(
                name,
                table,
                ["key", "value"],
                mysql_length={"value": VALUE_PREFIX},
                mariadb_length={"value": VALUE_PREFIX},
            )
        else:
            op.create_index(name, table, ["key", sa.text(f"substr(value, 1, {VALUE_PREFIX})")])


def downgrade() -> None:
    for table in TABLES:
        op.drop_index(f"ix_{table}_key_value", table_name=table)
