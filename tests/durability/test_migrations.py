"""Every schema revision upgrades a database that holds data, on SQLite, PostgreSQL and MariaDB.

For each Alembic revision N (found in the migrations folder, not listed here): upgrade an
empty database to N's parent, insert representative rows into every table that exists
there (each revision's seed, in revision order), upgrade to N, check that every seeded row
is intact and that N's own tables take and return rows, then upgrade to the newest
revision and read the old rows back through the stores the server uses.

A revision needs a seed here (rows for the tables it adds, written with the column names
of that revision, so later revisions cannot change what the seed means): a revision
without one fails ``test_every_revision_has_a_data_case``.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

from mltrail.store.sql.engine import create_engine_for
from mltrail.store.sql.migrate import alembic_config, current_revision, head_revision

SCRIPTS = ScriptDirectory.from_config(alembic_config())
# Oldest first.
REVISIONS = [r.revision for r in reversed(list(SCRIPTS.walk_revisions()))]

T0 = 1_700_000_000_000
RUN_DONE = "a" * 32
RUN_LIVE = "b" * 32
EXP = 7
LONG_TAG = "ü" * 5000 + "end"


def _t(name: str, *columns: str | sa.Column[Any]) -> sa.TableClause:
    """A table as a revision knew it (lightweight: no metadata of today's schema)."""
    cols = [sa.column(c) if isinstance(c, str) else c for c in columns]
    return sa.table(name, *cols)


def _rows(conn: Connection, table: sa.TableClause, *order: str) -> list[tuple[Any, ...]]:
    query = sa.select(*table.c).order_by(*(table.c[o] for o in order))
    return [tuple(r) for r in conn.execute(query)]


def _insert(conn: Connection, table: sa.TableClause, rows: list[dict[str, Any]]) -> None:
    for row in rows:
        conn.execute(sa.insert(table).values(**row))


@dataclass(frozen=True)
class Seed:
    """Rows for the tables a revision adds: ``insert`` them, ``check`` them with SQL at any
    later revision, ``read`` them through today's stores at the newest revision."""

    insert: Callable[[Connection], None]
    check: Callable[[Connection], None]
    read: Callable[[Engine], None]


# -- 0001: experiments, runs, params, tags, metric chunks and summaries, applied requests ----
def _pack(fmt: str, values: list[Any]) -> bytes:
    # The chunk format of 0001: little-endian int64 steps/timestamps, float64 values.
    return struct.pack(f"<{len(values)}{fmt}", *values)


LOSS = [float(i) / 10 for i in range(150)]
LOSS[3] = math.nan
LOSS[4] = math.inf
LOSS[5] = -math.inf
_experiments = _t(
    "experiments",
    "experiment_id",
    "name",
    "artifact_location",
    "lifecycle_stage",
    "creation_time",
    "last_update_time",
    "deleted_time",
)
_experiment_tags = _t("experiment_tags", "experiment_id", "key", "value")
_runs = _t(
    "runs",
    "run_id",
    "experiment_id",
    "run_name",
    "user_id",
    "status",
    "start_time",
    "end_time",
    "lifecycle_stage",
    "artifact_uri",
    "deleted_time",
)
_params = _t("params", "run_id", "key", "value")
_tags = _t("tags", "run_id", "key", "value")
# chunk_id and logged_model_metrics.id are left to the database (its sequence must stay
# in step for the rows written after the upgrade).
_chunks = _t(
    "metric_chunks",
    "run_id",
    "key",
    "count",
    "min_step",
    "max_step",
    sa.column("steps", sa.LargeBinary),
    sa.column("timestamps", sa.LargeBinary),
    sa.column("values", sa.LargeBinary),
)
_summaries = _t(
    "metric_summaries",
    "run_id",
    "key",
    "value",
    "value_kind",
    "step",
    "timestamp",
    "min_value",
    "max_value",
    "count",
    "chunk_count",
)
_applied = _t("applied_requests", "request_key", "kind", "created_time", "result")

EXPERIMENT_ROWS = [
    {
        "experiment_id": EXP,
        "name": "churn",
        "artifact_location": "/artifacts/7",
        "lifecycle_stage": "active",
        "creation_time": T0,
        "last_update_time": T0 + 1,
        "deleted_time": None,
    },
    {
        "experiment_id": EXP + 1,
        "name": "old",
        "artifact_location": "s3://bucket/8",
        "lifecycle_stage": "deleted",
        "creation_time": T0,
        "last_update_time": T0 + 2,
        "deleted_time": T0 + 2,
    },
]
RUN_ROWS = [
    {
        "run_id": RUN_DONE,
        "experiment_id": EXP,
        "run_name": "finished-run",
        "user_id": "ana",
        "status": "FINISHED",
        "start_time": T0,
        "end_time": T0 + 5000,
        "lifecycle_stage": "active",
        "artifact_uri": f"/artifacts/7/{RUN_DONE}/artifacts",
        "deleted_time": None,
    },
    {
        "run_id": RUN_LIVE,
        "experiment_id": EXP,
        "run_name": "live-run",
        "user_id": "bo",
        "status": "RUNNING",
        "start_time": T0 + 10,
        "end_time": None,
        "lifecycle_stage": "active",
        "artifact_uri": f"/artifacts/7/{RUN_LIVE}/artifacts",
        "deleted_time": None,
    },
]
PARAM_ROWS = [
    {"run_id": RUN_DONE, "key": "lr", "value": "0.01"},
    {"run_id": RUN_DONE, "key": "solver", "value": "lbfgs"},
    {"run_id": RUN_LIVE, "key": "lr", "value": "0.1"},
]
TAG_ROWS = [
    {"run_id": RUN_DONE, "key": "mlflow.runName", "value": "finished-run"},
    {"run_id": RUN_DONE, "key": "note", "value": LONG_TAG},
    {"run_id": RUN_LIVE, "key": "mlflow.runName", "value": "live-run"},
]
CHUNK_ROWS = [
    {
        "run_id": RUN_DONE,
        "key": "loss",
        "count": 100,
        "min_step": 0,
        "max_step": 99,
        "steps": _pack("q", list(range(100))),
        "timestamps": _pack("q", [T0 + i for i in range(100)]),
        "values": _pack("d", LOSS[:100]),
    },
    {
        "run_id": RUN_DONE,
        "key": "loss",
        "count": 50,
        "min_step": 100,
        "max_step": 149,
        "steps": _pack("q", list(range(100, 150))),
        "timestamps": _pack("q", [T0 + i for i in range(100, 150)]),
        "values": _pack("d", LOSS[100:]),
    },
]
SUMMARY_ROWS = [
    {
        "run_id": RUN_DONE,
        "key": "loss",
        "value": LOSS[149],
        "value_kind": 0,
        "step": 149,
        "timestamp": T0 + 149,
        "min_value": -1.7976931348623157e308,
        "max_value": 1.7976931348623157e308,
        "count": 150,
        "chunk_count": 2,
    }
]


def _insert_0001(conn: Connection) -> None:
    _insert(conn, _experiments, EXPERIMENT_ROWS)
    _insert(conn, _experiment_tags, [{"experiment_id": EXP, "key": "team", "value": "risk"}])
    _insert(conn, _runs, RUN_ROWS)
    _insert(conn, _params, PARAM_ROWS)
    _insert(conn, _tags, TAG_ROWS)
    _insert(conn, _chunks, CHUNK_ROWS)
    _insert(conn, _summaries, SUMMARY_ROWS)
    _insert(
        conn,
        _applied,
        [{"request_key": "k-1", "kind": "log_batch", "created_time": T0, "result": None}],
    )


def _values(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [tuple(r.values()) for r in rows]


def _check_0001(conn: Connection) -> None:
    assert _rows(conn, _experiments, "experiment_id") == _values(EXPERIMENT_ROWS)
    assert _rows(conn, _experiment_tags, "key") == [(EXP, "team", "risk")]
    assert _rows(conn, _runs, "run_id") == _values(RUN_ROWS)
    assert _rows(conn, _params, "run_id", "key") == _values(PARAM_ROWS)
    assert _rows(conn, _tags, "run_id", "key") == _values(TAG_ROWS)
    chunks = [
        (*r[:5], bytes(r[5]), bytes(r[6]), bytes(r[7])) for r in _rows(conn, _chunks, "min_step")
    ]
    assert chunks == _values(CHUNK_ROWS)
    assert _rows(conn, _summaries, "key") == _values(SUMMARY_ROWS)
    assert _rows(conn, _applied, "request_key") == [("k-1", "log_batch", T0, None)]


def _read_0001(engine: Engine) -> None:
    from mltrail.store.sql.store import SqlTrackingStore

    store = SqlTrackingStore(engine, default_artifact_root="/artifacts")
    run = store.get_run(RUN_DONE)
    assert run.info.status == "FINISHED" and run.info.end_time == T0 + 5000
    assert run.info.experiment_id == str(EXP)
    assert run.data.params == {"lr": "0.01", "solver": "lbfgs"}
    assert run.data.tags["note"] == LONG_TAG
    assert run.data.metrics == {"loss": LOSS[149]}
    history = store.get_metric_history(RUN_DONE, key="loss", max_results=None, page_token=None)
    assert [m.step for m in history] == list(range(150))
    got = [m.value for m in history]
    assert math.isnan(got[3]) and got[4] == math.inf and got[5] == -math.inf
    assert got[:3] == LOSS[:3] and got[6:] == LOSS[6:]
    assert store.get_run(RUN_LIVE).info.status == "RUNNING"
    assert store.get_experiment(str(EXP)).tags == {"team": "risk"}
    # Logging into an old run still works: the new points join the old chunks.
    store.write_batch(
        RUN_DONE,
        columns={"loss": (np.array([150]), np.array([T0 + 150]), np.array([9.0]))},
        params=[],
        tags=[],
        idempotency_key="after-upgrade",
    )
    again = store.get_metric_history(RUN_DONE, key="loss", max_results=None, page_token=None)
    assert len(again) == 151 and store.get_run(RUN_DONE).data.metrics == {"loss": 9.0}


# -- 0002: logged models and the model registry ------------------------------------------
MODEL_ID = "m-" + "c" * 32
_logged_models = _t(
    "logged_models",
    "model_id",
    "experiment_id",
    "name",
    "artifact_location",
    "creation_timestamp",
    "last_updated_timestamp",
    "status",
    "status_message",
    "model_type",
    "source_run_id",
    "lifecycle_stage",
)
_lm_params = _t("logged_model_params", "model_id", "key", "value")
_lm_tags = _t("logged_model_tags", "model_id", "key", "value")
_lm_metrics = _t(
    "logged_model_metrics",
    "model_id",
    "key",
    "value",
    "value_kind",
    "timestamp",
    "step",
    "run_id",
    "dataset_name",
    "dataset_digest",
)
_registered = _t(
    "registered_models",
    "id",
    "name",
    "creation_timestamp",
    "last_updated_timestamp",
    "description",
    "user_id",
    "last_version",
)
_rm_tags = _t("registered_model_tags", "registered_model_id", "key", "value")
_versions = _t(
    "model_versions",
    "registered_model_id",
    "version",
    "creation_timestamp",
    "last_updated_timestamp",
    "description",
    "user_id",
    "current_stage",
    "source",
    "storage_location",
    "run_id",
    "run_link",
    "model_id",
    "status",
    "status_message",
)
_mv_tags = _t("model_version_tags", "registered_model_id", "version", "key", "value")
_aliases = _t("registered_model_aliases", "registered_model_id", "alias", "version")

LOGGED_MODEL_ROWS = [
    {
        "model_id": MODEL_ID,
        "experiment_id": EXP,
        "name": "model",
        "artifact_location": f"/artifacts/7/models/{MODEL_ID}/artifacts",
        "creation_timestamp": T0,
        "last_updated_timestamp": T0 + 1,
        "status": "READY",
        "status_message": None,
        "model_type": "sklearn",
        "source_run_id": RUN_DONE,
        "lifecycle_stage": "active",
    }
]
LM_METRIC_ROWS = [
    {
        "model_id": MODEL_ID,
        "key": "auc",
        "value": 0.91,
        "value_kind": 0,
        "timestamp": T0,
        "step": 3,
        "run_id": RUN_DONE,
        "dataset_name": "eval",
        "dataset_digest": "abc123",
    }
]
REGISTERED_ROWS = [
    {
        "id": 5,
        "name": "churn-model",
        "creation_timestamp": T0,
        "last_updated_timestamp": T0 + 3,
        "description": "predicts churn",
        "user_id": "ana",
        "last_version": 2,
    }
]
VERSION_ROWS = [
    {
        "registered_model_id": 5,
        "version": v,
        "creation_timestamp": T0 + v,
        "last_updated_timestamp": T0 + v,
        "description": None,
        "user_id": "ana",
        "current_stage": stage,
        "source": f"models:/{MODEL_ID}",
        "storage_location": f"/artifacts/7/models/{MODEL_ID}/artifacts",
        "run_id": RUN_DONE,
        "run_link": None,
        "model_id": MODEL_ID,
        "status": "READY",
        "status_message": None,
    }
    for v, stage in ((1, "Production"), (2, "None"))
]


def _insert_0002(conn: Connection) -> None:
    _insert(conn, _logged_models, LOGGED_MODEL_ROWS)
    _insert(conn, _lm_params, [{"model_id": MODEL_ID, "key": "C", "value": "1.0"}])
    _insert(conn, _lm_tags, [{"model_id": MODEL_ID, "key": "flavor", "value": "sklearn"}])
    _insert(conn, _lm_metrics, LM_METRIC_ROWS)
    _insert(conn, _registered, REGISTERED_ROWS)
    _insert(conn, _rm_tags, [{"registered_model_id": 5, "key": "owner", "value": "risk"}])
    _insert(conn, _versions, VERSION_ROWS)
    _insert(
        conn,
        _mv_tags,
        [{"registered_model_id": 5, "version": 1, "key": "validated", "value": "yes"}],
    )
    _insert(conn, _aliases, [{"registered_model_id": 5, "alias": "champion", "version": 1}])


def _check_0002(conn: Connection) -> None:
    assert _rows(conn, _logged_models, "model_id") == _values(LOGGED_MODEL_ROWS)
    assert _rows(conn, _lm_params, "key") == [(MODEL_ID, "C", "1.0")]
    assert _rows(conn, _lm_tags, "key") == [(MODEL_ID, "flavor", "sklearn")]
    assert _rows(conn, _lm_metrics, "key") == _values(LM_METRIC_ROWS)
    assert _rows(conn, _registered, "id") == _values(REGISTERED_ROWS)
    assert _rows(conn, _rm_tags, "key") == [(5, "owner", "risk")]
    assert _rows(conn, _versions, "version") == _values(VERSION_ROWS)
    assert _rows(conn, _mv_tags, "key") == [(5, 1, "validated", "yes")]
    assert _rows(conn, _aliases, "alias") == [(5, "champion", 1)]


def _read_0002(engine: Engine) -> None:
    from mltrail.store.sql.logged_models import SqlLoggedModelStore
    from mltrail.store.sql.registry import SqlRegistryStore

    model = SqlLoggedModelStore(engine).get(MODEL_ID)
    assert model.source_run_id == RUN_DONE and model.params == {"C": "1.0"}
    assert model.tags == {"flavor": "sklearn"}
    assert [(m.key, m.value, m.step) for m in model.metrics] == [("auc", 0.91, 3)]
    registry = SqlRegistryStore(engine)
    registered = registry.get_registered_model("churn-model")
    assert registered.description == "predicts churn" and registered.tags == {"owner": "risk"}
    assert dict(registered.aliases) == {"champion": 1}
    version = registry.get_model_version("churn-model", version=1)
    assert version.current_stage == "Production" and version.tags == {"validated": "yes"}
    assert version.model_id == MODEL_ID and version.run_id == RUN_DONE


# -- 0003: users, tokens, sessions, permissions -------------------------------------------
_users = _t(
    "users",
    "id",
    "username",
    "password_hash",
    sa.column("is_admin", sa.Boolean),
    "created_at",
    "password_changed_at",
)
_tokens = _t(
    "api_tokens",
    "id",
    "prefix",
    "secret_hash",
    "user_id",
    "name",
    "created_at",
    "expires_at",
    "last_used_at",
)
_sessions = _t("sessions", "id_hash", "user_id", "csrf_token", "created_at", "expires_at")
_exp_perms = _t("experiment_permissions", "experiment_id", "user_id", "level")
_rm_perms = _t("registered_model_permissions", "registered_model_id", "user_id", "level")
USER_ROWS = [
    {
        "id": 3,
        "username": "alice",
        "password_hash": "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
        "is_admin": True,
        "created_at": T0,
        "password_changed_at": T0,
    },
    {
        "id": 4,
        "username": "bob",
        "password_hash": "$argon2id$v=19$m=65536,t=3,p=4$c2FsdDI$aGFzaDI",
        "is_admin": False,
        "created_at": T0,
        "password_changed_at": T0 + 1,
    },
]
TOKEN_ROWS = [
    {
        "id": 1,
        "prefix": "mlt_abc123",
        "secret_hash": "f" * 64,
        "user_id": 4,
        "name": "ci",
        "created_at": T0,
        "expires_at": None,
        "last_used_at": T0 + 9,
    }
]
SESSION_ROWS = [
    {
        "id_hash": "e" * 64,
        "user_id": 3,
        "csrf_token": "d" * 64,
        "created_at": T0,
        "expires_at": 4_000_000_000_000,
    }
]


def _insert_0003(conn: Connection) -> None:
    _insert(conn, _users, USER_ROWS)
    _insert(conn, _tokens, TOKEN_ROWS)
    _insert(conn, _sessions, SESSION_ROWS)
    _insert(conn, _exp_perms, [{"experiment_id": EXP, "user_id": 4, "level": 2}])
    _insert(conn, _rm_perms, [{"registered_model_id": 5, "user_id": 4, "level": 3}])


def _check_0003(conn: Connection) -> None:
    assert [(*r[:3], bool(r[3]), *r[4:]) for r in _rows(conn, _users, "id")] == _values(USER_ROWS)
    assert _rows(conn, _tokens, "id") == _values(TOKEN_ROWS)
    assert _rows(conn, _sessions, "id_hash") == _values(SESSION_ROWS)
    assert _rows(conn, _exp_perms, "user_id") == [(EXP, 4, 2)]
    assert _rows(conn, _rm_perms, "user_id") == [(5, 4, 3)]


def _read_0003(engine: Engine) -> None:
    from mltrail.store.sql.auth import SqlAuthStore

    auth = SqlAuthStore(engine)
    alice = auth.get_user("alice")
    assert alice is not None and alice.is_admin and alice.id == 3
    token = auth.find_token("mlt_abc123")
    assert token is not None and token.username == "bob" and token.name == "ci"
    session = auth.get_session("e" * 64)
    assert session is not None and session.user_id == 3
    assert auth.experiment_level(4, EXP) == 2
    assert auth.registered_model_level(4, 5) == 3


# -- 0004: groups, group grants, the signed-in switch, the must-change-password flag --------
_groups = _t("groups", "id", "name", "created_at")
_members = _t("group_members", "group_id", "user_id")
_exp_group_perms = _t("experiment_group_permissions", "experiment_id", "group_id", "level")
_rm_group_perms = _t(
    "registered_model_group_permissions", "registered_model_id", "group_id", "level"
)
_signed_in = _t("experiment_signed_in_permissions", "experiment_id", "level")
_must_change = _t("users", "id", sa.column("must_change_password", sa.Boolean))


def _insert_0004(conn: Connection) -> None:
    _insert(conn, _groups, [{"id": 2, "name": "ds-team", "created_at": T0}])
    _insert(conn, _members, [{"group_id": 2, "user_id": 4}])
    _insert(conn, _exp_group_perms, [{"experiment_id": EXP, "group_id": 2, "level": 2}])
    _insert(conn, _rm_group_perms, [{"registered_model_id": 5, "group_id": 2, "level": 1}])
    _insert(conn, _signed_in, [{"experiment_id": EXP, "level": 1}])


def _check_0004(conn: Connection) -> None:
    assert _rows(conn, _groups, "id") == [(2, "ds-team", T0)]
    assert _rows(conn, _members, "user_id") == [(2, 4)]
    assert _rows(conn, _exp_group_perms, "group_id") == [(EXP, 2, 2)]
    assert _rows(conn, _rm_group_perms, "group_id") == [(5, 2, 1)]
    assert _rows(conn, _signed_in, "experiment_id") == [(EXP, 1)]
    # Users from before the revision need no password change.
    assert [(r[0], bool(r[1])) for r in _rows(conn, _must_change, "id")] == [(3, False), (4, False)]


def _read_0004(engine: Engine) -> None:
    from mltrail.store.sql.auth import SqlAuthStore

    auth = SqlAuthStore(engine)
    bob = auth.get_user("bob")
    assert bob is not None and not bob.must_change_password
    group = auth.get_group("ds-team")
    assert group is not None and group.members == ("bob",)
    access = auth.experiment_access(4, EXP)
    assert (access.user, access.group, access.signed_in) == (2, 2, 1)
    model = auth.registered_model_access(4, 5)
    assert (model.user, model.group, model.signed_in) == (3, 1, None)


# -- 0005: failed logins and slow-try slots of the login throttle ---------------------------
_login_failures = _t("login_failures", "username", "address", "failed_at")
_login_slots = _t("login_slots", "username", "next_at")
FAILURE_ROWS = [
    {"username": "alice", "address": "198.51.100.7", "failed_at": T0 + 1},
    {"username": "alice", "address": "2001:db8:1:2::/64", "failed_at": T0 + 2},
    {"username": "~" + "f" * 64, "address": "unknown", "failed_at": T0 + 3},
]


def _insert_0005(conn: Connection) -> None:
    _insert(conn, _login_failures, FAILURE_ROWS)
    _insert(conn, _login_slots, [{"username": "alice", "next_at": T0 + 1000}])


def _check_0005(conn: Connection) -> None:
    assert _rows(conn, _login_failures, "failed_at") == _values(FAILURE_ROWS)
    assert _rows(conn, _login_slots, "username") == [("alice", T0 + 1000)]


def _read_0005(engine: Engine) -> None:
    from mltrail.store.sql.login_throttle import SqlThrottleStore

    store = SqlThrottleStore(engine)
    counts = store.failure_counts(username="alice", address="198.51.100.7", since=T0)
    assert (counts.pair, counts.user, counts.address) == (1, 2, 1)
    assert not store.claim_slot(username="alice", now=T0 + 999, interval_ms=1000)
    assert store.claim_slot(username="alice", now=T0 + 1000, interval_ms=1000)


# -- 0006: indexes on params and tags (key, first 200 characters of value) -----------------
# No new table: the rows of 0001 (a 5,000-character tag among them) must be indexed and
# found through the new indexes.
def _insert_0006(conn: Connection) -> None:
    pass


# SQLAlchemy does not reflect expression indexes: ask each catalogue.
_INDEX_NAMES = {
    "sqlite": "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = :t",
    "postgresql": "SELECT indexname FROM pg_indexes WHERE tablename = :t",
    "mysql": "SELECT index_name FROM information_schema.statistics "
    "WHERE table_schema = DATABASE() AND table_name = :t",
}


def _check_0006(conn: Connection) -> None:
    sql = _INDEX_NAMES["mysql" if conn.dialect.name == "mariadb" else conn.dialect.name]
    for table in ("params", "tags"):
        names = set(conn.execute(sa.text(sql), {"t": table}).scalars())
        assert f"ix_{table}_key_value" in names, names


def _read_0006(engine: Engine) -> None:
    from mltrail.entities import ViewType
    from mltrail.store.sql.store import SqlTrackingStore

    store = SqlTrackingStore(engine, default_artifact_root="/artifacts")
    for filter_string, expected in (
        (f"tags.note = '{LONG_TAG}'", [RUN_DONE]),
        (f"tags.note = '{LONG_TAG[:-1]}'", []),
        ("params.solver = 'lbfgs'", [RUN_DONE]),
    ):
        found = store.search_runs(
            [str(EXP)],
            filter_string=filter_string,
            view_type=ViewType.ALL,
            max_results=10,
            order_by=[],
            page_token=None,
        )
        assert [r.info.run_id for r in found] == expected, filter_string


SEEDS: dict[str, Seed] = {
    "0001": Seed(_insert_0001, _check_0001, _read_0001),
    "0002": Seed(_insert_0002, _check_0002, _read_0002),
    "0003": Seed(_insert_0003, _check_0003, _read_0003),
    "0004": Seed(_insert_0004, _check_0004, _read_0004),
    "0005": Seed(_insert_0005, _check_0005, _read_0005),
    "0006": Seed(_insert_0006, _check_0006, _read_0006),
}


# -- the tests ----------------------------------------------------------------------------
def _upgrade(engine: Engine, target: str) -> None:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn.execution_options(mltrail_write=True)
        with conn.begin():
            command.upgrade(alembic_config(conn), target)
    assert current_revision(engine) == target


def _in_transaction(engine: Engine, work: Callable[[Connection], None]) -> None:
    with engine.begin() as conn:
        work(conn)


def test_every_revision_has_a_data_case() -> None:
    assert REVISIONS[-1] == head_revision()
    missing = [r for r in REVISIONS if r not in SEEDS]
    assert missing == [], (
        f"revisions without a data case in {__name__}.SEEDS: {missing}; add rows for the "
        "tables they add (and checks) so that upgrading a database with data is tested"
    )
    assert sorted(SEEDS) == sorted(REVISIONS), "SEEDS names a revision that does not exist"


@pytest.mark.parametrize("revision", REVISIONS)
def test_upgrade_to_revision_keeps_the_data_of_the_previous_one(db_uri: str, revision: str) -> None:
    assert revision in SEEDS, f"revision {revision} has no data case in SEEDS"
    script = SCRIPTS.get_revision(revision)
    assert script is not None
    previous = script.down_revision
    assert previous is None or isinstance(previous, str), "merge revisions are not expected"
    earlier = REVISIONS[: REVISIONS.index(revision)]
    engine = create_engine_for(db_uri)
    try:
        if previous is not None:
            _upgrade(engine, previous)
            for name in earlier:
                _in_transaction(engine, SEEDS[name].insert)
        _upgrade(engine, revision)
        for name in earlier:
            _in_transaction(engine, SEEDS[name].check)
        # The revision's own tables take rows and give them back.
        _in_transaction(engine, SEEDS[revision].insert)
        _in_transaction(engine, SEEDS[revision].check)
        # And today's code reads all of it once the database is at the newest revision.
        _upgrade(engine, head_revision())
        for name in [*earlier, revision]:
            _in_transaction(engine, SEEDS[name].check)
            SEEDS[name].read(engine)
    finally:
        engine.dispose()
