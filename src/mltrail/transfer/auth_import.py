"""``--auth-db``: MLflow's basic-auth users and permissions become mltrail users and grants.

MLflow 3.17 keeps grants as role permissions (``roles``, ``role_permissions``,
``user_role_assignments``; a user's own grants hang off a ``__user_<id>__`` role); older
auth databases keep ``experiment_permissions`` and ``registered_model_permissions``. Both
are read. Experiment ids and model names go through the import's map (so run the import
of the tracking data first, in the same command). Passwords hashed by Werkzeug (scrypt,
pbkdf2: what MLflow writes) carry over; a user with any other hash gets a locked password
and is listed: they must set a new one (``mltrail users passwd NAME``). Users that already
exist in the target keep their password and admin flag and get the grants.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from mltrail.errors import ConfigurationError
from mltrail.service.werkzeug_hashes import is_werkzeug_hash
from mltrail.store.sql.auth import SqlAuthStore
from mltrail.store.sql.bulk import registered_model_id
from mltrail.transfer.errors import NotSourceData
from mltrail.transfer.sources.mlflow_sql import open_read_only
from mltrail.transfer.state import ImportState

if TYPE_CHECKING:
    from mltrail.transfer.engine import ImportReport
    from mltrail.transfer.targets.base import Target

LEVELS = {"NO_PERMISSIONS": 0, "READ": 1, "USE": 1, "EDIT": 2, "MANAGE": 3}
# A password no hash function produces: the user cannot log in until an admin sets one.
LOCKED = "!locked:imported-from-mlflow"


def _engine_uri(auth_db: str) -> str:
    if "://" in auth_db:
        return auth_db
    path = Path(auth_db).expanduser()
    if not path.is_file():
        raise NotSourceData(f"--auth-db {auth_db}: no such file")
    return f"sqlite:///{path.resolve()}"


def read_grants(conn: sa.Connection, tables: set[str]) -> list[tuple[int, str, str, str]]:
    """(user id, resource type, resource id or name or '*', permission) of every grant."""
    if {"role_permissions", "user_role_assignments"} <= tables:
        query = sa.text(
            "SELECT a.user_id, p.resource_type, p.resource_pattern, p.permission "
            "FROM user_role_assignments a JOIN role_permissions p ON p.role_id = a.role_id"
        )
        return [(int(u), t, str(r), p) for u, t, r, p in conn.execute(query)]
    out: list[tuple[int, str, str, str]] = []
    if "experiment_permissions" in tables:
        for user_id, exp_id, permission in conn.execute(
            sa.text("SELECT user_id, experiment_id, permission FROM experiment_permissions")
        ):
            out.append((int(user_id), "experiment", str(exp_id), permission))
    if "registered_model_permissions" in tables:
        for user_id, name, permission in conn.execute(
            sa.text("SELECT user_id, name, permission FROM registered_model_permissions")
        ):
            out.append((int(user_id), "registered_model", str(name), permission))
    return out


def import_auth(auth_db: str, *, target: Target, state: ImportState, report: ImportReport) -> None:
    engine_of_target = getattr(target, "engine", None)
    if engine_of_target is None:
        raise ConfigurationError(
            "--auth-db needs a database target (users live in the server's database): run the "
            "import with --tracking-uri set to the server's --backend-store-uri"
        )
    source = open_read_only(_engine_uri(auth_db))
    try:
        with source.connect() as conn:
            tables = set(sa.inspect(conn).get_table_names())
            if "users" not in tables:
                raise NotSourceData(f"{auth_db} is not an MLflow basic-auth database")
            users = conn.execute(
                sa.text("SELECT id, username, password_hash, is_admin FROM users ORDER BY id")
            ).all()
            grants = read_grants(conn, tables)
    finally:
        source.dispose()
    store = SqlAuthStore(engine_of_target)
    ids = _import_users(store, users, report, state=state)
    _import_grants(store, grants, ids=ids, state=state, report=report)


def _import_users(
    store: SqlAuthStore, users: Sequence[Any], report: ImportReport, *, state: ImportState
) -> dict[int, int]:
    now = int(time.time() * 1000)
    ids: dict[int, int] = {}
    locked: list[str] = []
    for source_id, username, password_hash, is_admin in users:
        existing = store.get_user(username)
        if existing is not None:
            ids[int(source_id)] = existing.id
            if username not in state.users:
                report.notes.append(
                    f"user {username!r} exists in the target: kept as it is, grants added"
                )
            continue
        stored = password_hash if password_hash and is_werkzeug_hash(password_hash) else LOCKED
        if stored == LOCKED:
            locked.append(username)
        created = store.create_user(
            username, password_hash=stored, is_admin=bool(is_admin), now=now
        )
        ids[int(source_id)] = created.id
        state.users[username] = "created"
        report.counts["users"] += 1
    if locked:
        report.notes.append(
            f"{len(locked)} user(s) have a password hash mltrail cannot verify and must set a new "
            f"password (`mltrail users passwd NAME`): {', '.join(locked)}"
        )
    return ids


def _import_grants(
    store: SqlAuthStore,
    grants: list[tuple[int, str, str, str]],
    *,
    ids: dict[int, int],
    state: ImportState,
    report: ImportReport,
) -> None:
    skipped: Counter[str] = Counter()
    for source_user, kind, pattern, permission in grants:
        user_id = ids.get(source_user)
        level = LEVELS.get(permission.upper())
        if user_id is None or level is None:
            skipped[f"{kind} {permission}"] += 1
            continue
        if kind == "experiment":
            targets = (
                list(state.experiments.values())
                if pattern == "*"
                else [state.experiments[pattern]]
                if pattern in state.experiments
                else []
            )
            for exp_id in targets:
                store.set_experiment_level(int(exp_id), user_id=user_id, level=level)
                report.counts["grants"] += 1
            if not targets:
                skipped["experiment not imported"] += 1
        elif kind in ("registered_model", "prompt"):
            names = (
                list(state.registered_models.values())
                if pattern == "*"
                else [state.registered_models[pattern]]
                if pattern in state.registered_models
                else []
            )
            for name in names:
                with store.engine.connect() as conn:
                    rm_id = registered_model_id(conn, name)
                if rm_id is not None:
                    store.set_registered_model_level(rm_id, user_id=user_id, level=level)
                    report.counts["grants"] += 1
            if not names:
                skipped["registered model not imported"] += 1
        else:
            skipped[kind] += 1
    state.save()
    if skipped:
        listed = ", ".join(f"{n} {what}" for what, n in sorted(skipped.items()))
        report.notes.append(
            f"grants left out (mltrail has per-experiment and per-model grants only, or their "
            f"object was not imported): {listed}"
        )
