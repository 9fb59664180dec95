"""Groups, their members and grants, and the experiments' "everyone signed in" switch.

A mixin of :class:`mltrail.store.sql.auth.SqlAuthStore` (it uses the store's ``engine``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from mltrail.errors import ResourceAlreadyExists, ResourceDoesNotExist
from mltrail.store.schema import experiments
from mltrail.store.schema_auth import (
    GroupGrantRecord,
    GroupRecord,
    experiment_group_permissions,
    experiment_permissions,
    experiment_signed_in_permissions,
    group_members,
    groups,
    registered_model_group_permissions,
    registered_model_permissions,
    users,
)
from mltrail.store.schema_models import registered_models
from mltrail.store.sql.engine import read_connection, run_write

_g = groups.c
_gm = group_members.c
_eg = experiment_group_permissions.c
_mg = registered_model_group_permissions.c
_es = experiment_signed_in_permissions.c
_u = users.c


@dataclass(frozen=True)
class Access:
    """Everything that gives one user a level on one resource (None: nothing of that kind)."""

    user: int | None
    group: int | None
    signed_in: int | None


def _group_missing(name: str) -> ResourceDoesNotExist:
    return ResourceDoesNotExist(f"Group '{name}' not found")


class GroupStore:
    engine: Engine

    # -- groups and members -------------------------------------------------------
    def create_group(self, name: str, *, now: int) -> GroupRecord:
        def work(conn: Connection) -> GroupRecord:
            try:
                conn.execute(insert(groups).values(name=name, created_at=now))
            except IntegrityError as exc:
                raise ResourceAlreadyExists(f"Group '{name}' already exists") from exc
            row = conn.execute(select(groups).where(_g.name == name)).one()
            return GroupRecord(int(row.id), row.name, int(row.created_at))

        return run_write(self.engine, work)

    def delete_group(self, name: str) -> None:
        def work(conn: Connection) -> None:
            group_id = conn.execute(select(_g.id).where(_g.name == name)).scalar()
            if group_id is None:
                raise _group_missing(name)
            # Explicit: the grants and memberships go with the group on every backend.
            for table in (
                group_members,
                experiment_group_permissions,
                registered_model_group_permissions,
            ):
                conn.execute(delete(table).where(table.c.group_id == group_id))
            conn.execute(delete(groups).where(_g.id == group_id))

        run_write(self.engine, work)

    def list_groups(self, *, name: str | None = None) -> list[GroupRecord]:
        """Every group (or the one called ``name``) with its members' user names."""
        query = (
            select(_g.id, _g.name, _g.created_at, _u.username)
            .select_from(groups.outerjoin(group_members, _gm.group_id == _g.id))
            .outerjoin(users, _u.id == _gm.user_id)
            .order_by(_g.name, _u.username)
        )
        if name is not None:
            query = query.where(_g.name == name)
        found: dict[int, tuple[str, int, list[str]]] = {}
        with read_connection(self.engine) as conn:
            for row in conn.execute(query):
                entry = found.setdefault(int(row.id), (row.name, int(row.created_at), []))
                if row.username is not None:
                    entry[2].append(row.username)
        return [
            GroupRecord(gid, name, created, tuple(members))
            for gid, (name, created, members) in found.items()
        ]

    def get_group(self, name: str) -> GroupRecord | None:
        found = self.list_groups(name=name)
        return found[0] if found else None

    def groups_of_user(self, user_id: int) -> list[str]:
        query = (
            select(_g.name)
            .join(group_members, _gm.group_id == _g.id)
            .where(_gm.user_id == user_id)
            .order_by(_g.name)
        )
        with read_connection(self.engine) as conn:
            return [str(name) for name in conn.execute(query).scalars()]

    def add_member(self, group_id: int, *, user_id: int) -> bool:
        """Whether the user was added (False: already a member)."""

        def work(conn: Connection) -> bool:
            present = conn.execute(
                select(_gm.user_id).where(_gm.group_id == group_id, _gm.user_id == user_id)
            ).first()
            if present is not None:
                return False
            conn.execute(insert(group_members).values(group_id=group_id, user_id=user_id))
            return True

        return run_write(self.engine, work)

    def remove_member(self, group_id: int, *, user_id: int) -> bool:
        def work(conn: Connection) -> bool:
            done = conn.execute(
                delete(group_members).where(_gm.group_id == group_id, _gm.user_id == user_id)
            )
            return bool(done.rowcount)

        return run_write(self.engine, work)

    # -- what gives a user a level -----------------------------------------------------
    def experiment_access(self, user_id: int, experiment_id: int) -> Access:
        """The user's own grant, their groups' best grant and the switch, in one query."""
        own = select(experiment_permissions.c.level).where(
            experiment_permissions.c.user_id == user_id,
            experiment_permissions.c.experiment_id == experiment_id,
        )
        via_groups = (
            select(func.max(_eg.level))
            .join(group_members, _gm.group_id == _eg.group_id)
            .where(_gm.user_id == user_id, _eg.experiment_id == experiment_id)
        )
        switch = select(_es.level).where(_es.experiment_id == experiment_id)
        query = select(
            own.scalar_subquery().label("own"),
            via_groups.scalar_subquery().label("groups"),
            switch.scalar_subquery().label("switch"),
        )
        with read_connection(self.engine) as conn:
            row = conn.execute(query).one()
        return Access(_int(row.own), _int(row.groups), _int(row.switch))

    def registered_model_access(self, user_id: int, model_id: int) -> Access:
        own = select(registered_model_permissions.c.level).where(
            registered_model_permissions.c.user_id == user_id,
            registered_model_permissions.c.registered_model_id == model_id,
        )
        via_groups = (
            select(func.max(_mg.level))
            .join(group_members, _gm.group_id == _mg.group_id)
            .where(_gm.user_id == user_id, _mg.registered_model_id == model_id)
        )
        query = select(
            own.scalar_subquery().label("own"), via_groups.scalar_subquery().label("groups")
        )
        with read_connection(self.engine) as conn:
            row = conn.execute(query).one()
        return Access(_int(row.own), _int(row.groups), None)

    def experiment_name(self, experiment_id: int) -> str | None:
        with read_connection(self.engine) as conn:
            value = conn.execute(
                select(experiments.c.name).where(experiments.c.experiment_id == experiment_id)
            ).scalar()
        return None if value is None else str(value)

    # -- group grants ------------------------------------------------------------------
    def set_experiment_group_level(self, experiment_id: int, *, group_id: int, level: int) -> None:
        try:
            run_write(
                self.engine,
                lambda conn: upsert_level(
                    conn,
                    experiment_group_permissions,
                    {"experiment_id": experiment_id, "group_id": group_id},
                    level,
                ),
            )
        except IntegrityError as exc:
            raise ResourceDoesNotExist(f"No Experiment with id={experiment_id} exists") from exc

    def set_registered_model_group_level(self, model_id: int, *, group_id: int, level: int) -> None:
        run_write(
            self.engine,
            lambda conn: upsert_level(
                conn,
                registered_model_group_permissions,
                {"registered_model_id": model_id, "group_id": group_id},
                level,
            ),
        )

    def delete_experiment_group_level(self, experiment_id: int, *, group_id: int) -> bool:
        return self._delete(
            experiment_group_permissions,
            _eg.experiment_id == experiment_id,
            _eg.group_id == group_id,
        )

    def delete_registered_model_group_level(self, model_id: int, *, group_id: int) -> bool:
        return self._delete(
            registered_model_group_permissions,
            _mg.registered_model_id == model_id,
            _mg.group_id == group_id,
        )

    def _delete(self, table: Any, *where: Any) -> bool:
        def work(conn: Connection) -> bool:
            return bool(conn.execute(delete(table).where(*where)).rowcount)

        return run_write(self.engine, work)

    def experiment_group_grants(
        self, *, experiment_id: int | None = None, group_id: int | None = None
    ) -> list[GroupGrantRecord]:
        query = (
            select(_eg.experiment_id, _eg.group_id, _eg.level, _g.name)
            .join(groups, _g.id == _eg.group_id)
            .order_by(_eg.experiment_id, _g.name)
        )
        if experiment_id is not None:
            query = query.where(_eg.experiment_id == experiment_id)
        if group_id is not None:
            query = query.where(_eg.group_id == group_id)
        with read_connection(self.engine) as conn:
            return [
                GroupGrantRecord(str(r.experiment_id), int(r.group_id), r.name, int(r.level))
                for r in conn.execute(query)
            ]

    def registered_model_group_grants(
        self, *, model_id: int | None = None, group_id: int | None = None
    ) -> list[GroupGrantRecord]:
        rm = registered_models.c
        query = (
            select(rm.name.label("model"), _mg.group_id, _mg.level, _g.name)
            .join(groups, _g.id == _mg.group_id)
            .join(registered_models, rm.id == _mg.registered_model_id)
            .order_by(rm.name, _g.name)
        )
        if model_id is not None:
            query = query.where(_mg.registered_model_id == model_id)
        if group_id is not None:
            query = query.where(_mg.group_id == group_id)
        with read_connection(self.engine) as conn:
            return [
                GroupGrantRecord(r.model, int(r.group_id), r.name, int(r.level))
                for r in conn.execute(query)
            ]

    # -- the "everyone signed in" switch -----------------------------------------------------
    def experiment_signed_in_level(self, experiment_id: int) -> int | None:
        with read_connection(self.engine) as conn:
            value = conn.execute(
                select(_es.level).where(_es.experiment_id == experiment_id)
            ).scalar()
        return _int(value)

    def experiment_signed_in_levels(self) -> dict[str, int]:
        with read_connection(self.engine) as conn:
            rows = conn.execute(select(_es.experiment_id, _es.level).order_by(_es.experiment_id))
            return {str(r.experiment_id): int(r.level) for r in rows}

    def set_experiment_signed_in_level(
        self, experiment_id: int, *, level: int, only_if_unset: bool = False
    ) -> bool:
        """Store the switch; with ``only_if_unset`` an existing row (even 0) is kept.
        Returns whether a row was written."""

        def work(conn: Connection) -> bool:
            present = conn.execute(
                select(_es.level).where(_es.experiment_id == experiment_id)
            ).first()
            if present is not None:
                if only_if_unset:
                    return False
                conn.execute(
                    update(experiment_signed_in_permissions)
                    .where(_es.experiment_id == experiment_id)
                    .values(level=level)
                )
                return True
            conn.execute(
                insert(experiment_signed_in_permissions).values(
                    experiment_id=experiment_id, level=level
                )
            )
            return True

        try:
            return run_write(self.engine, work)
        except IntegrityError as exc:
            exists = self.experiment_name(experiment_id) is not None
            if only_if_unset and exists:
                return False  # another process wrote it first
            raise ResourceDoesNotExist(f"No Experiment with id={experiment_id} exists") from exc


def _int(value: object) -> int | None:
    return None if value is None else int(value)  # type: ignore[call-overload]


def upsert_level(conn: Connection, table: Any, key: dict[str, Any], level: int) -> None:
    # Portable across the three databases: update, and insert when nothing was there.
    where = [table.c[name] == value for name, value in key.items()]
    done = conn.execute(update(table).where(*where).values(level=level))
    if done.rowcount == 0:
        conn.execute(insert(table).values(level=level, **key))
