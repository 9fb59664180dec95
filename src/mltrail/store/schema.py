"""SQL tables of the tracking store (SQLAlchemy Core).

Every change here needs an Alembic revision in ``mltrail/migrations/versions``.

Metrics are not one row per point: each (run, key) series is a list of chunks
holding packed little-endian arrays (int64 steps, int64 timestamps, float64
values), plus one summary row per (run, key) for the runs table and search.
Non-finite values cannot live in MySQL's DOUBLE, so summary columns store a
finite stand-in (NaN -> NULL, +/-inf -> +/-max double) and ``value_kind`` says
what the value really was; chunks keep the exact bits.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
    func,
    literal_column,
)
from sqlalchemy.dialects import mysql

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# MySQL's BLOB stops at 64 KB; a chunk can be several MB.
Blob = LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb")
# Double precision everywhere (MySQL's FLOAT is single precision).
# asdecimal=False: MySQL DOUBLE otherwise reads back as a Decimal rounded to 10 places.
Double = Float(precision=53).with_variant(mysql.DOUBLE(asdecimal=False), "mysql", "mariadb")
LongText = Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")

# value_kind codes for summary columns
FINITE, NAN, POS_INF, NEG_INF = 0, 1, 2, 3

# Param and tag values are indexed on their first VALUE_PREFIX characters: a value may be
# 6,000 (param) or 8,000 (tag) characters, past what a PostgreSQL b-tree entry (2,704
# bytes) or a MySQL index key (3,072 bytes) holds. SQLite and PostgreSQL index the
# expression ``substr(value, 1, VALUE_PREFIX)`` (queries repeat it to use the index);
# MySQL/MariaDB, which have no expression indexes before MySQL 8.0.13, index a prefix
# of the column, which plain comparisons of ``value`` use.
VALUE_PREFIX = 200

experiments = Table(
    "experiments",
    metadata,
    Column("experiment_id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(256), nullable=False, unique=True),
    Column("artifact_location", String(1024), nullable=False),
    Column("lifecycle_stage", String(16), nullable=False, server_default="active"),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_update_time", BigInteger, nullable=False),
    Column("deleted_time", BigInteger, nullable=True),
)

experiment_tags = Table(
    "experiment_tags",
    metadata,
    Column(
        "experiment_id",
        Integer,
        ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("key", String(250), nullable=False),
    Column("value", LongText, nullable=False),
    PrimaryKeyConstraint("experiment_id", "key"),
)

runs = Table(
    "runs",
    metadata,
    Column("run_id", String(32), primary_key=True),
    Column(
        "experiment_id",
        Integer,
        ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("run_name", String(250), nullable=False),
    Column("user_id", String(256), nullable=False),
    Column("status", String(16), nullable=False),
    Column("start_time", BigInteger, nullable=False),
    Column("end_time", BigInteger, nullable=True),
    Column("lifecycle_stage", String(16), nullable=False, server_default="active"),
    Column("artifact_uri", String(1024), nullable=False),
    Column("deleted_time", BigInteger, nullable=True),
    Index("ix_runs_experiment_start", "experiment_id", "start_time"),
)

params = Table(
    "params",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.run_id", ondelete="CASCADE"), nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("run_id", "key"),
)

tags = Table(
    "tags",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.run_id", ondelete="CASCADE"), nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", LongText, nullable=False),
    PrimaryKeyConstraint("run_id", "key"),
)


def value_prefix(column: ColumnElement[str]) -> ColumnElement[str]:
    """The indexed part of a param or tag value (see VALUE_PREFIX).

    Written with literal numbers: a planner matches a query's expression against the
    index's text, and ``substr(value, ?, ?)`` with bound numbers would not match.
    """
    return func.substr(column, literal_column("1"), literal_column(str(VALUE_PREFIX)))


# (key, value) lookups of the search filters: ``params.x = 'a'`` finds its runs here.
# One Index object per dialect (the DDL differs; ddl_if picks the dialect's own).
for _table in (params, tags):
    for _dialect in ("sqlite", "postgresql"):
        Index(
            f"ix_{_table.name}_key_value",
            _table.c.key,
            value_prefix(_table.c.value),
        ).ddl_if(dialect=_dialect)
    for _dialect in ("mysql", "mariadb"):
        Index(
            f"ix_{_table.name}_key_value",
            _table.c.key,
            _table.c.value,
            mysql_length={"value": VALUE_PREFIX},
            mariadb_length={"value": VALUE_PREFIX},
        ).ddl_if(dialect=_dialect)

metric_chunks = Table(
    "metric_chunks",
    metadata,
    Column(
        "chunk_id",
        BigInteger().with_variant(Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    Column("run_id", String(32), ForeignKey("runs.run_id", ondelete="CASCADE"), nullable=False),
    Column("key", String(250), nullable=False),
    Column("count", Integer, nullable=False),
    Column("min_step", BigInteger, nullable=False),
    Column("max_step", BigInteger, nullable=False),
    Column("steps", Blob, nullable=False),
    Column("timestamps", Blob, nullable=False),
    Column("values", Blob, nullable=False),
    Index("ix_metric_chunks_run_key", "run_id", "key"),
)

metric_summaries = Table(
    "metric_summaries",
    metadata,
    Column("run_id", String(32), ForeignKey("runs.run_id", ondelete="CASCADE"), nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", Double, nullable=True),
    Column("value_kind", SmallInteger, nullable=False, server_default="0"),
    Column("step", BigInteger, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("min_value", Double, nullable=True),
    Column("max_value", Double, nullable=True),
    Column("count", BigInteger, nullable=False),
    Column("chunk_count", Integer, nullable=False, server_default="0"),
    PrimaryKeyConstraint("run_id", "key"),
    Index("ix_metric_summaries_key_value", "key", "value"),
)

# A batch carrying an idempotency key is recorded here in the same transaction
# as its rows, so a retried batch is recognised and applied once.
applied_requests = Table(
    "applied_requests",
    metadata,
    Column("request_key", String(128), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("created_time", BigInteger, nullable=False),
    Column("result", Text, nullable=True),
)
