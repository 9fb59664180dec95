"""Users, tokens, sessions and grants on the three databases, through the services."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mltrail.errors import (
    InvalidParameterValue,
    PermissionDenied,
    ResourceAlreadyExists,
    ResourceDoesNotExist,
    Unauthenticated,
)
from mltrail.service.auth import AuthService
from mltrail.service.permissions import Level, PermissionService, Principal
from mltrail.service.tracking import TrackingService
from mltrail.store.sql import open_store
from mltrail.store.sql.auth import SqlAuthStore

PASSWORD = "correct horse battery"


@pytest.fixture
def wired(
    migrated_db_uri: str,
) -> Iterator[tuple[AuthService, PermissionService, TrackingService]]:
    store = open_store(migrated_db_uri, default_artifact_root="/tmp/mltrail-auth-test")
    auth_store = SqlAuthStore(store.engine)
    yield (
        AuthService(store=auth_store),
        PermissionService(store=auth_store, default_level=Level.NONE),
        TrackingService(store=store),
    )
    store.close()


def test_users_passwords_and_tokens(
    wired: tuple[AuthService, PermissionService, TrackingService],
) -> None:
    auth, _, _ = wired
    with pytest.raises(InvalidParameterValue, match="at least 12"):
        auth.create_user("alice", "short")
    alice = auth.create_user("alice", PASSWORD, is_admin=True)
    assert alice.password_hash.startswith("$argon2id$") and PASSWORD not in alice.password_hash
    with pytest.raises(ResourceAlreadyExists):
        auth.create_user("alice", PASSWORD)
    assert auth.authenticate_password("alice", PASSWORD, address="a").id == alice.id
    with pytest.raises(Unauthenticated):
        auth.authenticate_password("alice", PASSWORD + "x", address="a")
    with pytest.raises(Unauthenticated):
        auth.authenticate_password("nobody", PASSWORD, address="a")
    assert auth.has_admin()

    new = auth.create_token("alice", name="ci", expires_in_days=1)
    assert new.token.startswith("mlt_")
    stored = auth.list_tokens("alice")[0]
    # The secret is urlsafe base64 and may itself contain "_": take all after "mlt_<id>_".
    secret = new.token.split("_", 2)[2]
    assert len(secret) >= 32 and secret not in stored.secret_hash
    assert auth.authenticate_token(new.token, address="a").username == "alice"
    assert auth.authenticate_secret("alice", new.token, address="a").username == "alice"
    auth.create_user("bob", PASSWORD)
    with pytest.raises(Unauthenticated):
        auth.authenticate_secret("bob", new.token, address="a")
    with pytest.raises(Unauthenticated):
        auth.authenticate_token(new.token[:-2] + "xx", address="a")
    auth.revoke_token("alice", name="ci")
    with pytest.raises(Unauthenticated):
        auth.authenticate_token(new.token, address="a")


def test_sessions_end_on_password_change_and_deletion(
    wired: tuple[AuthService, PermissionService, TrackingService],
) -> None:
    auth, _, _ = wired
    user = auth.create_user("carol", PASSWORD)
    cookie, session = auth.start_session(user)
    assert auth.session(cookie) is not None and session.csrf_token
    auth.end_session(cookie)
    assert auth.session(cookie) is None
    cookie, _ = auth.start_session(user)
    auth.set_password("carol", PASSWORD + "!")
    assert auth.session(cookie) is None
    cookie, _ = auth.start_session(auth.get_user("carol"))
    auth.delete_user("carol")
    assert auth.session(cookie) is None


def test_htpasswd_import_and_rehash(
    wired: tuple[AuthService, PermissionService, TrackingService],
) -> None:
    import bcrypt

    auth, _, _ = wired
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    imported, skipped = auth.import_htpasswd(
        [f"dave:{hashed}", "erin:$apr1$abc$def", "# comment", "frank:{SHA}xyz", "gil:$y$j9T$x"]
    )
    assert [(u.username, u.kind) for u in imported] == [("dave", "bcrypt")]
    # Damaged hashes and schemes htpasswd does not write are refused, not taken as passwords.
    assert len(skipped) == 3 and all("not a password hash" in s for s in skipped)
    auth.authenticate_password("dave", PASSWORD, address="x")
    assert auth.get_user("dave").password_hash.startswith("$argon2id$")
    auth.authenticate_password("dave", PASSWORD, address="x")


def test_grants_and_filtered_search(
    wired: tuple[AuthService, PermissionService, TrackingService],
) -> None:
    from mltrail.service.authorized import AuthorizedTracking
    from mltrail.service.permissions import acting_as

    auth, perms, tracking = wired
    a = auth.create_user("usera", PASSWORD)
    b = auth.create_user("userb", PASSWORD)
    pa = Principal(a.id, a.username, False)
    pb = Principal(b.id, b.username, False)
    checked = AuthorizedTracking(tracking, permissions=perms)
    with acting_as(pa):
        mine = [checked.create_experiment(f"a-{i}") for i in range(5)]
    with acting_as(pb):
        theirs = [checked.create_experiment(f"b-{i}") for i in range(4)]
        for page_size in (1, 2, 3, 10):
            seen: list[str] = []
            token = None
            while True:
                page = checked.search_experiments(max_results=page_size, page_token=token)
                assert len(page) == page_size or page.token is None
                seen += [e.experiment_id for e in page]
                token = page.token
                if token is None:
                    break
            assert sorted(seen) == sorted(theirs)
        with pytest.raises(ResourceDoesNotExist) as hidden:
            checked.get_experiment(mine[0])
        with pytest.raises(ResourceDoesNotExist) as missing:
            checked.get_experiment("999999")
        assert str(hidden.value.message).replace(mine[0], "X") == str(
            missing.value.message
        ).replace("999999", "X")
        # By name, a hidden experiment is a permission problem that names no more than the
        # name (creating one of that name would tell as much).
        with pytest.raises(PermissionDenied, match="'a-0' exists but is not shared with userb"):
            checked.get_experiment_by_name("a-0")
        assert checked.get_experiment_by_name("never-made") is None
        with pytest.raises(ResourceDoesNotExist):
            checked.rename_experiment(mine[0], new_name="stolen")
    perms.set_experiment_grant(pa, mine[0], username="userb", level=Level.READ)
    with acting_as(pb):
        assert checked.get_experiment(mine[0]).name == "a-0"
        with pytest.raises(PermissionDenied):
            checked.rename_experiment(mine[0], new_name="stolen")
        with pytest.raises(ResourceDoesNotExist):
            perms.set_experiment_grant(pb, mine[1], username="userb", level=Level.MANAGE)
        with pytest.raises(PermissionDenied):
            perms.set_experiment_grant(pb, mine[0], username="userb", level=Level.MANAGE)
