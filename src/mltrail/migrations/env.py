"""Alembic environment: runs revisions on the connection handed over by mltrail.

mltrail never runs Alembic from a command line with an ini file; it builds the
Config in code (see ``mltrail.store.sql.migrate``) and passes an open connection
in ``config.attributes["connection"]``.
"""

from __future__ import annotations

from alembic import context

# Imported for their side effect: they add the model, user and permission tables to metadata.
import mltrail.store.schema_auth
import mltrail.store.schema_models  # noqa: F401
from mltrail.store.schema import metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("mltrail migrations need a connection in config.attributes['connection']")

context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table="alembic_version",
    render_as_batch=connection.dialect.name == "sqlite",
    transaction_per_migration=False,
)
with context.begin_transaction():
    context.run_migrations()
