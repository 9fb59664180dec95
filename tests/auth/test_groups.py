"""Groups, the "everyone signed in" switch and the Default experiment, on the three databases.

A user's level is the highest of their own grant (or the server default without one),
their groups' grants and the experiment's switch; searches filter by the same rule in SQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from mltrail.composition import model_services
from mltrail.errors import InvalidParameterValue, PermissionDenied, ResourceDoesNotExist
from mltrail.service.auth import AuthService
from mltrail.service.authorized import AuthorizedRegistry, AuthorizedTracking
from mltrail.service.groups import GroupService
from mltrail.service.permissions import Level, PermissionService, Principal, acting_as
from mltrail.service.tracking import TrackingService
from mltrail.store.sql import open_store
from mltrail.store.sql.auth import SqlAuthStore

PASSWORD = "correct horse battery"


@dataclass
class Team:
    perms: PermissionService
    groups: GroupService
    tracking: AuthorizedTracking
    store: SqlAuthStore
    who: dict[str, Principal]

    def visible(self, user: str) -> set[str]:
        with acting_as(self.who[user]):
            return {e.name for e in self.tracking.search_experiments(max_results=100)}


def _team(db_uri: str, default: Level) -> Iterator[Team]:
    store = open_store(db_uri, default_artifact_root="/tmp/mltrail-groups-test")
    auth_store = SqlAuthStore(store.engine)
    auth = AuthService(store=auth_store)
    who = {}
    for name in ("alice", "bob", "carol"):
        user = auth.create_user(name, PASSWORD)
        who[name] = Principal(user.id, user.username, False)
    perms = PermissionService(store=auth_store, default_level=default)
    tracking = AuthorizedTracking(TrackingService(store=store), permissions=perms)
    try:
        yield Team(perms, GroupService(auth_store), tracking, auth_store, who)
    finally:
        store.close()


@pytest.fixture
def team(db_uri: str) -> Iterator[Team]:
    yield from _team(db_uri, Level.NONE)


def test_group_grants_reach_members_only_and_add_up(team: Team) -> None:
    with acting_as(team.who["alice"]):
        exp = team.tracking.create_experiment("churn")
    team.groups.create("ds", ["bob"])
    assert "churn" not in team.visible("bob")
    team.perms.set_experiment_group_grant(team.who["alice"], exp, group="ds", level=Level.READ)
    assert "churn" in team.visible("bob") and "churn" not in team.visible("carol")
    with acting_as(team.who["bob"]):
        assert team.tracking.get_experiment(exp).name == "churn"
        with pytest.raises(PermissionDenied) as refused:
            team.tracking.create_run(exp)
    # The refusal says what bob has, what he needs and who can grant it.
    text = refused.value.message
    assert "bob has READ on experiment 'churn'" in text and "needs EDIT" in text
    assert "MANAGE permission on it, or an admin" in text
    # Grants add up: bob's own READ does not lower the group's EDIT.
    team.perms.set_experiment_group_grant(team.who["alice"], exp, group="ds", level=Level.EDIT)
    team.perms.set_experiment_grant(team.who["alice"], exp, username="bob", level=Level.READ)
    with acting_as(team.who["bob"]):
        run = team.tracking.create_run(exp)
    assert run.info.experiment_id == exp
    # Leaving the group takes the group's grant away (bob keeps his own READ).
    assert team.groups.remove("ds", ["bob"]) == ["bob"]
    with acting_as(team.who["bob"]), pytest.raises(PermissionDenied):
        team.tracking.create_run(exp)
    team.perms.delete_experiment_grant(team.who["alice"], exp, username="bob")
    assert "churn" not in team.visible("bob")
    # Only managers grant; a group cannot be granted NONE (that is a revoke).
    with pytest.raises(ResourceDoesNotExist):
        team.perms.set_experiment_group_grant(team.who["bob"], exp, group="ds", level=Level.READ)
    with pytest.raises(InvalidParameterValue):
        team.perms.set_experiment_group_grant(team.who["alice"], exp, group="ds", level=Level.NONE)
    # Deleting a group removes its grants.
    team.groups.add("ds", ["bob", "carol"])
    assert "churn" in team.visible("carol")
    team.groups.delete("ds")
    assert "churn" not in team.visible("carol")
    assert team.store.experiment_group_grants(experiment_id=int(exp)) == []


def test_signed_in_switch_and_the_default_experiment(team: Team) -> None:
    with acting_as(team.who["alice"]):
        exp = team.tracking.create_experiment("shared")
    team.perms.set_experiment_signed_in(team.who["alice"], exp, level=Level.READ)
    assert "shared" in team.visible("bob")
    with acting_as(team.who["bob"]), pytest.raises(PermissionDenied):
        team.tracking.create_run(exp)
    with pytest.raises(InvalidParameterValue, match="READ or EDIT"):
        team.perms.set_experiment_signed_in(team.who["alice"], exp, level=Level.MANAGE)
    # A user's own NONE grant keeps the server default away, not the switch.
    team.perms.set_experiment_grant(team.who["alice"], exp, username="bob", level=Level.NONE)
    assert "shared" in team.visible("bob")
    team.perms.set_experiment_signed_in(team.who["alice"], exp, level=Level.NONE)
    assert "shared" not in team.visible("bob") and "shared" not in team.visible("carol")

    # The Default experiment: hidden until the server shares it, then EDIT for everyone.
    with acting_as(team.who["bob"]), pytest.raises(PermissionDenied, match="Default experiment"):
        team.tracking.create_run("0")
    assert team.perms.share_default_experiment() is True
    with acting_as(team.who["bob"]):
        assert team.tracking.create_run("0").info.experiment_id == "0"
    assert "Default" in team.visible("carol")
    # An admin who turns it off keeps it off across server starts.
    admin = Principal(None, "", True)
    team.perms.set_experiment_signed_in(admin, "0", level=Level.NONE)
    assert team.perms.share_default_experiment() is False
    assert "Default" not in team.visible("carol")


def test_hidden_names_say_permission_and_no_more(team: Team) -> None:
    with acting_as(team.who["alice"]):
        secret = team.tracking.create_experiment("alice-secret")
    with acting_as(team.who["bob"]):
        for attempt in (
            lambda: team.tracking.get_experiment_by_name("alice-secret"),
            lambda: team.tracking.create_experiment("alice-secret"),
        ):
            with pytest.raises(PermissionDenied) as refused:
                attempt()
            text = refused.value.message
            assert "'alice-secret' exists but is not shared with bob" in text
            assert "alice" not in text.replace("alice-secret", "") and secret not in text
        # By id, a hidden experiment still answers exactly like a missing one.
        with pytest.raises(ResourceDoesNotExist, match=f"id={secret} exists"):
            team.tracking.get_experiment(secret)


def test_group_grants_on_registered_models(db_uri: str) -> None:
    for team in _team(db_uri, Level.NONE):
        _, inner = model_services(
            engine=team.store.engine, tracking=team.tracking.inner, allowed_roots=()
        )
        registry = AuthorizedRegistry(inner, permissions=team.perms)
        with acting_as(team.who["alice"]):
            registry.create_registered_model("churn-model")
        team.groups.create("ops", ["carol"])
        with acting_as(team.who["carol"]):
            assert [m.name for m in registry.search_registered_models()] == []
        team.perms.set_registered_model_group_grant(
            team.who["alice"], "churn-model", group="ops", level=Level.READ
        )
        with acting_as(team.who["carol"]):
            assert [m.name for m in registry.search_registered_models()] == ["churn-model"]
            assert registry.get_registered_model("churn-model").name == "churn-model"
            with pytest.raises(PermissionDenied, match="carol has READ on registered model"):
                registry.update_registered_model("churn-model", description="x")
        with acting_as(team.who["bob"]):
            assert [m.name for m in registry.search_registered_models()] == []
