"""SQL tables of logged models and of the model registry (SQLAlchemy Core).

They live on the same ``metadata`` as the tracking tables so that one Alembic
history covers the whole database; every change here needs a revision in
``mltrail/migrations/versions``.

Registered models have a surrogate integer id so that a rename touches one row;
versions, their tags and aliases hang off that id. ``last_version`` keeps version
numbers monotonic after deletions (MLflow never reuses a version number).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
)

from mltrail.store.schema import Double, LongText, metadata

logged_models = Table(
    "logged_models",
    metadata,
    Column("model_id", String(40), primary_key=True),
    Column(
        "experiment_id",
        Integer,
        ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("name", String(500), nullable=False),
    Column("artifact_location", String(1024), nullable=False),
    Column("creation_timestamp", BigInteger, nullable=False),
    Column("last_updated_timestamp", BigInteger, nullable=False),
    Column("status", String(40), nullable=False),
    Column("status_message", Text, nullable=True),
    Column("model_type", String(500), nullable=True),
    # No foreign key: external models have no run, and a run may be purged.
    Column("source_run_id", String(32), nullable=True),
    Column("lifecycle_stage", String(16), nullable=False, server_default="active"),
    Index("ix_logged_models_experiment_name", "experiment_id", "name"),
    Index("ix_logged_models_source_run", "source_run_id"),
)

logged_model_params = Table(
    "logged_model_params",
    metadata,
    Column(
        "model_id",
        String(40),
        ForeignKey("logged_models.model_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("key", String(250), nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("model_id", "key"),
)

logged_model_tags = Table(
    "logged_model_tags",
    metadata,
    Column(
        "model_id",
        String(40),
        ForeignKey("logged_models.model_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("key", String(250), nullable=False),
    Column("value", LongText, nullable=False),
    PrimaryKeyConstraint("model_id", "key"),
)

# Metric values linked to a model. Few per model (the values of the step the model
# was logged at), so one row per value; value_kind as in metric_summaries.
logged_model_metrics = Table(
    "logged_model_metrics",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column(
        "model_id",
        String(40),
        ForeignKey("logged_models.model_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("key", String(250), nullable=False),
    Column("value", Double, nullable=True),
    Column("value_kind", SmallInteger, nullable=False, server_default="0"),
    Column("timestamp", BigInteger, nullable=False),
    Column("step", BigInteger, nullable=False),
    Column("run_id", String(32), nullable=True),
    Column("dataset_name", String(500), nullable=True),
    Column("dataset_digest", String(36), nullable=True),
    Index("ix_logged_model_metrics_model_key", "model_id", "key"),
)

registered_models = Table(
    "registered_models",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(256), nullable=False, unique=True),
    Column("creation_timestamp", BigInteger, nullable=False),
    Column("last_updated_timestamp", BigInteger, nullable=False),
    Column("description", Text, nullable=True),
    Column("user_id", String(256), nullable=True),
    Column("last_version", Integer, nullable=False, server_default="0"),
)

registered_model_tags = Table(
    "registered_model_tags",
    metadata,
    Column(
        "registered_model_id",
        Integer,
        ForeignKey("registered_models.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("key", String(250), nullable=False),
    Column("value", LongText, nullable=False),
    PrimaryKeyConstraint("registered_model_id", "key"),
)

model_versions = Table(
    "model_versions",
    metadata,
    Column(
        "registered_model_id",
        Integer,
        ForeignKey("registered_models.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("version", Integer, nullable=False),
    Column("creation_timestamp", BigInteger, nullable=False),
    Column("last_updated_timestamp", BigInteger, nullable=False),
    Column("description", Text, nullable=True),
    Column("user_id", String(256), nullable=True),
    Column("current_stage", String(20), nullable=False, server_default="None"),
    Column("source", Text, nullable=False),
    Column("storage_location", Text, nullable=False),
    Column("run_id", String(32), nullable=True),
    Column("run_link", Text, nullable=True),
    Column("model_id", String(40), nullable=True),
    Column("status", String(32), nullable=False),
    Column("status_message", Text, nullable=True),
    PrimaryKeyConstraint("registered_model_id", "version"),
    Index("ix_model_versions_run_id", "run_id"),
)

model_version_tags = Table(
    "model_version_tags",
    metadata,
    Column("registered_model_id", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", LongText, nullable=False),
    PrimaryKeyConstraint("registered_model_id", "version", "key"),
    ForeignKeyConstraint(
        ["registered_model_id", "version"],
        ["model_versions.registered_model_id", "model_versions.version"],
        ondelete="CASCADE",
        name="fk_model_version_tags_version",
    ),
)

registered_model_aliases = Table(
    "registered_model_aliases",
    metadata,
    Column("registered_model_id", Integer, nullable=False),
    Column("alias", String(255), nullable=False),
    Column("version", Integer, nullable=False),
    PrimaryKeyConstraint("registered_model_id", "alias"),
    # Deleting a version drops the aliases that pointed at it, as MLflow does.
    ForeignKeyConstraint(
        ["registered_model_id", "version"],
        ["model_versions.registered_model_id", "model_versions.version"],
        ondelete="CASCADE",
        name="fk_registered_model_aliases_version",
    ),
)
