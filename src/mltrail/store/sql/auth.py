"""``SqlAuthStore``: users, API tokens, sessions and grants on the tracking database."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Engine, Row, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from mltrail.errors import ResourceAlreadyExists, ResourceDoesNotExist
from mltrail.store.schema import runs
from mltrail.store.schema_auth import (
    GrantRecord,
    SessionRecord,
    TokenRecord,
    UserRecord,
    api_tokens,
    experiment_permissions,
    group_members,
    registered_model_permissions,
    sessions,
    users,
)
from mltrail.store.schema_models import logged_models, registered_models
from mltrail.store.sql.auth_groups import GroupStore, upsert_level
from mltrail.store.sql.engine import read_connection, run_write

_u = users.c
_t = api_tokens.c
_s = sessions.c
_ep = experiment_permissions.c
_mp = registered_model_permissions.c


def _user(row: Row[Any]) -> UserRecord:
    return UserRecord(
        id=int(row.id),
        username=row.username,
        password_hash=row.password_hash,
        is_admin=bool(row.is_admin),
        created_at=int(row.created_at),
        password_changed_at=int(row.password_changed_at),
        must_change_password=bool(row.must_change_password),
    )


def _token(row: Row[Any]) -> TokenRecord:
    return TokenRecord(
        id=int(row.id),
        prefix=row.prefix,
        secret_hash=row.secret_hash,
        user_id=int(row.user_id),
        username=row.username,
        name=row.name,
        created_at=int(row.created_at),
        expires_at=None if row.expires_at is None else int(row.expires_at),
        last_used_at=None if row.last_used_at is None else int(row.last_used_at),
    )


def _user_missing(username: str) -> ResourceDoesNotExist:
    return ResourceDoesNotExist(f"User with username={username} not found")


class SqlAuthStore(GroupStore):
    """Thread-safe (one pooled engine); every method is one short transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- users -------------------------------------------------------------
    def create_user(
        self,
        username: str,
        *,
        password_hash: str,
        is_admin: bool,
        now: int,
        must_change_password: bool = False,
    ) -> UserRecord:
        def work(conn: Connection) -> UserRecord:
            try:
                conn.execute(
                    insert(users).values(
                        username=username,
                        password_hash=password_hash,
                        is_admin=is_admin,
                        created_at=now,
                        password_changed_at=now,
                        must_change_password=must_change_password,
                    )
                )
            except IntegrityError as exc:
                raise ResourceAlreadyExists(f"User '{username}' already exists") from exc
            row = conn.execute(select(users).where(_u.username == username)).one()
            return _user(row)

        return run_write(self.engine, work)

    def get_user(self, username: str) -> UserRecord | None:
        with read_connection(self.engine) as conn:
            row = conn.execute(select(users).where(_u.username == username)).first()
        return None if row is None else _user(row)

    def get_user_by_id(self, user_id: int) -> UserRecord | None:
        with read_connection(self.engine) as conn:
            row = conn.execute(select(users).where(_u.id == user_id)).first()
        return None if row is None else _user(row)

    def list_users(self) -> list[UserRecord]:
        with read_connection(self.engine) as conn:
            return [_user(r) for r in conn.execute(select(users).order_by(_u.username))]

    def count_admins(self) -> int:
        with read_connection(self.engine) as conn:
            count = conn.execute(
                select(func.count()).select_from(users).where(_u.is_admin.is_(True))
            ).scalar()
        return int(count or 0)

    def delete_user(self, username: str) -> None:
        def work(conn: Connection) -> None:
            row = conn.execute(select(_u.id).where(_u.username == username)).first()
            if row is None:
                raise _user_missing(username)
            # Explicit deletes: MySQL and SQLite honour ON DELETE CASCADE, but this does
            # not depend on it (sessions must die with the user).
            for table in (sessions, api_tokens, experiment_permissions, group_members):
                conn.execute(delete(table).where(table.c.user_id == row.id))
            conn.execute(delete(registered_model_permissions).where(_mp.user_id == row.id))
            conn.execute(delete(users).where(_u.id == row.id))

        run_write(self.engine, work)

    def set_password_hash(self, username: str, *, password_hash: str, now: int | None) -> None:
        """Store a new hash; ``now`` (a real password change) also ends every session and
        clears the must-change flag."""

        def work(conn: Connection) -> None:
            values: dict[str, Any] = {"password_hash": password_hash}
            if now is not None:
                values["password_changed_at"] = now
                values["must_change_password"] = False
            done = conn.execute(update(users).where(_u.username == username).values(**values))
            if done.rowcount == 0:
                raise _user_missing(username)
            if now is not None:
                user_id = select(_u.id).where(_u.username == username).scalar_subquery()
                conn.execute(delete(sessions).where(_s.user_id == user_id))

        run_write(self.engine, work)

    def set_must_change_password(self, username: str, *, value: bool) -> None:
        def work(conn: Connection) -> None:
            done = conn.execute(
                update(users).where(_u.username == username).values(must_change_password=value)
            )
            if done.rowcount == 0:
                raise _user_missing(username)

        run_write(self.engine, work)

    def set_admin(self, username: str, *, is_admin: bool) -> None:
        def work(conn: Connection) -> None:
            done = conn.execute(
                update(users).where(_u.username == username).values(is_admin=is_admin)
            )
            if done.rowcount == 0:
                raise _user_missing(username)

        run_write(self.engine, work)

    # -- API tokens --------------------------------------------------------
    def create_token(
        self,
        user_id: int,
        *,
        prefix: str,
        secret_hash: str,
        name: str,
        now: int,
        expires_at: int | None,
    ) -> int:
        def work(conn: Connection) -> int:
            taken = conn.execute(
                select(_t.id).where(_t.user_id == user_id, _t.name == name)
            ).first()
            if taken is not None:
                raise ResourceAlreadyExists(f"A token named '{name}' already exists")
            result = conn.execute(
                insert(api_tokens).values(
                    prefix=prefix,
                    secret_hash=secret_hash,
                    user_id=user_id,
                    name=name,
                    created_at=now,
                    expires_at=expires_at,
                )
            )
            key = result.inserted_primary_key
            assert key is not None
            return int(key[0])

        return run_write(self.engine, work)

    def _token_query(self) -> Any:
        return select(api_tokens, _u.username).join(users, _u.id == _t.user_id)

    def find_token(self, prefix: str) -> TokenRecord | None:
        with read_connection(self.engine) as conn:
            row = conn.execute(self._token_query().where(_t.prefix == prefix)).first()
        return None if row is None else _token(row)

    def list_tokens(self, user_id: int | None) -> list[TokenRecord]:
        query = self._token_query().order_by(_u.username, _t.created_at, _t.id)
        if user_id is not None:
            query = query.where(_t.user_id == user_id)
        with read_connection(self.engine) as conn:
            return [_token(r) for r in conn.execute(query)]

    def delete_token(self, user_id: int, *, name: str) -> None:
        def work(conn: Connection) -> None:
            done = conn.execute(delete(api_tokens).where(_t.user_id == user_id, _t.name == name))
            if done.rowcount == 0:
                raise ResourceDoesNotExist(f"No token named '{name}'")

        run_write(self.engine, work)

    def touch_token(self, token_id: int, *, now: int) -> None:
        run_write(
            self.engine,
            lambda conn: conn.execute(
                update(api_tokens).where(_t.id == token_id).values(last_used_at=now)
            ),
        )

    # -- sessions ----------------------------------------------------------
    def create_session(
        self, id_hash: str, *, user_id: int, csrf_token: str, now: int, expires_at: int
    ) -> None:
        run_write(
            self.engine,
            lambda conn: conn.execute(
                insert(sessions).values(
                    id_hash=id_hash,
                    user_id=user_id,
                    csrf_token=csrf_token,
                    created_at=now,
                    expires_at=expires_at,
                )
            ),
        )

    def get_session(self, id_hash: str) -> SessionRecord | None:
        with read_connection(self.engine) as conn:
            row = conn.execute(select(sessions).where(_s.id_hash == id_hash)).first()
        if row is None:
            return None
        return SessionRecord(
            user_id=int(row.user_id),
            csrf_token=row.csrf_token,
            created_at=int(row.created_at),
            expires_at=int(row.expires_at),
        )

    def delete_session(self, id_hash: str) -> None:
        run_write(
            self.engine, lambda conn: conn.execute(delete(sessions).where(_s.id_hash == id_hash))
        )

    def delete_expired_sessions(self, *, now: int) -> None:
        run_write(
            self.engine, lambda conn: conn.execute(delete(sessions).where(_s.expires_at < now))
        )

    # -- resources ---------------------------------------------------------
    def experiment_of_run(self, run_id: str) -> int | None:
        with read_connection(self.engine) as conn:
            value = conn.execute(
                select(runs.c.experiment_id).where(runs.c.run_id == run_id)
            ).scalar()
        return None if value is None else int(value)

    def experiment_of_logged_model(self, model_id: str) -> int | None:
        with read_connection(self.engine) as conn:
            value = conn.execute(
                select(logged_models.c.experiment_id).where(logged_models.c.model_id == model_id)
            ).scalar()
        return None if value is None else int(value)

    def registered_model_id(self, name: str) -> int | None:
        with read_connection(self.engine) as conn:
            value = conn.execute(
                select(registered_models.c.id).where(registered_models.c.name == name)
            ).scalar()
        return None if value is None else int(value)

    # -- grants ------------------------------------------------------------
    def experiment_level(self, user_id: int, experiment_id: int) -> int | None:
        with read_connection(self.engine) as conn:
            value = conn.execute(
                select(_ep.level).where(_ep.user_id == user_id, _ep.experiment_id == experiment_id)
            ).scalar()
        return None if value is None else int(value)

    def registered_model_level(self, user_id: int, model_id: int) -> int | None:
        with read_connection(self.engine) as conn:
            value = conn.execute(
                select(_mp.level).where(_mp.user_id == user_id, _mp.registered_model_id == model_id)
            ).scalar()
        return None if value is None else int(value)

    def set_experiment_level(self, experiment_id: int, *, user_id: int, level: int) -> None:
        try:
            run_write(
                self.engine,
                lambda conn: upsert_level(
                    conn,
                    experiment_permissions,
                    {"experiment_id": experiment_id, "user_id": user_id},
                    level,
                ),
            )
        except IntegrityError as exc:
            raise ResourceDoesNotExist(f"No Experiment with id={experiment_id} exists") from exc

    def set_registered_model_level(self, model_id: int, *, user_id: int, level: int) -> None:
        run_write(
            self.engine,
            lambda conn: upsert_level(
                conn,
                registered_model_permissions,
                {"registered_model_id": model_id, "user_id": user_id},
                level,
            ),
        )

    def delete_experiment_level(self, experiment_id: int, *, user_id: int) -> bool:
        def work(conn: Connection) -> bool:
            done = conn.execute(
                delete(experiment_permissions).where(
                    _ep.experiment_id == experiment_id, _ep.user_id == user_id
                )
            )
            return bool(done.rowcount)

        return run_write(self.engine, work)

    def delete_registered_model_level(self, model_id: int, *, user_id: int) -> bool:
        def work(conn: Connection) -> bool:
            done = conn.execute(
                delete(registered_model_permissions).where(
                    _mp.registered_model_id == model_id, _mp.user_id == user_id
                )
            )
            return bool(done.rowcount)

        return run_write(self.engine, work)

    def experiment_grants(
        self, *, experiment_id: int | None = None, user_id: int | None = None
    ) -> list[GrantRecord]:
        query = (
            select(_ep.experiment_id, _ep.user_id, _ep.level, _u.username)
            .join(users, _u.id == _ep.user_id)
            .order_by(_ep.experiment_id, _u.username)
        )
        if experiment_id is not None:
            query = query.where(_ep.experiment_id == experiment_id)
        if user_id is not None:
            query = query.where(_ep.user_id == user_id)
        with read_connection(self.engine) as conn:
            return [
                GrantRecord(str(r.experiment_id), int(r.user_id), r.username, int(r.level))
                for r in conn.execute(query)
            ]

    def registered_model_grants(
        self, *, model_id: int | None = None, user_id: int | None = None
    ) -> list[GrantRecord]:
        rm = registered_models.c
        query = (
            select(rm.name, _mp.user_id, _mp.level, _u.username)
            .join(users, _u.id == _mp.user_id)
            .join(registered_models, rm.id == _mp.registered_model_id)
            .order_by(rm.name, _u.username)
        )
        if model_id is not None:
            query = query.where(_mp.registered_model_id == model_id)
        if user_id is not None:
            query = query.where(_mp.user_id == user_id)
        with read_connection(self.engine) as conn:
            return [
                GrantRecord(r.name, int(r.user_id), r.username, int(r.level))
                for r in conn.execute(query)
            ]


__all__: Sequence[str] = ("SqlAuthStore",)
