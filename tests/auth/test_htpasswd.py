"""Importing users from htpasswd files made by Debian's `htpasswd`, as a team moving from an
nginx/Apache-protected MLflow has them: every kind of entry htpasswd writes is imported,
verified at the user's next login, re-hashed with argon2id then, and a weak password must be
changed before the user can do anything else.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from mltrail.cli.main import cli
from mltrail.config import Settings
from mltrail.server.app import create_app
from mltrail.service import htpasswd
from mltrail.service.auth import AuthService
from mltrail.store.sql import open_store
from mltrail.store.sql.auth import SqlAuthStore

HTPASSWD = shutil.which("htpasswd")
if HTPASSWD is None:
    pytest.fail(
        "htpasswd is missing: run `make install-test-tools` (Debian's apache2-utils)",
        pytrace=False,
    )

STRONG = "correct-horse-battery-9"
SHORT = "hunter2"
# htpasswd option -> (user, password, the kind mltrail reads it as)
ENTRIES = {
    "": ("ann", STRONG, "apr1"),  # the default of `htpasswd -c`
    "-B": ("ben", STRONG, "bcrypt"),
    "-s": ("sid", STRONG, "sha1"),
    "-2": ("sam", STRONG, "sha256-crypt"),
    "-5": ("sue", STRONG, "sha512-crypt"),
    "-d": ("dee", "abcdefgh-longer", "crypt"),
    "-p": ("pat", STRONG, "plain"),
    "-m": ("weak", SHORT, "apr1"),
}


def _htpasswd(path: Path, option: str, user: str, password: str, *, create: bool) -> None:
    assert HTPASSWD is not None
    flags = "-b" + ("c" if create else "")
    command = [HTPASSWD, flags, *([option] if option else []), str(path), user, password]
    subprocess.run(command, check=True, capture_output=True, timeout=30)


@pytest.fixture
def htpasswd_file(tmp_path: Path) -> Path:
    path = tmp_path / "users.htpasswd"
    for index, (option, (user, password, _)) in enumerate(ENTRIES.items()):
        _htpasswd(path, option, user, password, create=index == 0)
    return path


def test_every_kind_htpasswd_writes_is_recognised_and_verified(htpasswd_file: Path) -> None:
    entries = [e for e in htpasswd.parse(htpasswd_file.read_text().splitlines())]
    by_user = {e.username: e for e in entries if isinstance(e, htpasswd.Entry)}
    assert len(by_user) == len(ENTRIES), entries
    for user, password, kind in ENTRIES.values():
        entry = by_user[user]
        assert entry.kind == kind, (user, entry.secret)
        if kind == "plain":
            assert entry.secret == password
            continue
        assert htpasswd.verify(entry.secret, password), user
        assert not htpasswd.verify(entry.secret, "x" + password), user
    # DES crypt counts only 8 characters, exactly like Apache does.
    assert htpasswd.verify(by_user["dee"].secret, "abcdefgh-anything")


def test_cli_import_then_login_rehashes_and_weak_passwords_must_change(
    htpasswd_file: Path, tmp_path: Path
) -> None:
    db = f"sqlite:///{tmp_path / 'm.db'}"
    done = CliRunner().invoke(
        cli, ["users", "import-htpasswd", str(htpasswd_file), "--backend-store-uri", db]
    )
    assert done.exit_code == 0, done.output
    assert f"{len(ENTRIES)} imported, 0 skipped" in done.output
    assert "Imported ann (apr1)" in done.output
    assert "Imported dee (crypt; must change it at the next login" in done.output
    store = open_store(db, default_artifact_root=str(tmp_path / "a"))
    auth_store = SqlAuthStore(store.engine)
    before = {u.username: u for u in auth_store.list_users()}
    # Kept as they came until the next login, except the plain one (hashed at import).
    assert before["ann"].password_hash.startswith("$apr1$")
    assert before["pat"].password_hash.startswith("$argon2id$")
    assert before["pat"].password_hash != STRONG
    assert before["dee"].must_change_password and not before["ann"].must_change_password
    auth = AuthService(store=auth_store)
    auth.create_user("root", "root-password-123", is_admin=True)
    store.close()

    app = create_app(Settings(backend_store_uri=db, artifacts_destination=str(tmp_path / "a")))
    with TestClient(app, base_url="http://127.0.0.1") as client:
        for user, password, _ in ENTRIES.values():
            wrong = client.get("/api/v1/users/me", auth=(user, "!" + password))
            assert wrong.status_code == 401, user
            answer = client.get(
                "/api/2.0/mlflow/experiments/search",
                params={"max_results": 10},
                auth=(user, password),
            )
            if user in ("weak", "dee"):
                # Verified, but too weak to be used: the answer says what to do.
                assert answer.status_code == 403, (user, answer.text)
                assert "must be changed" in answer.json()["message"]
                assert f"mltrail users passwd {user}" in answer.json()["message"]
            else:
                assert answer.status_code == 200, (user, answer.text)
            # Who they are and the password change stay reachable.
            me = client.get("/api/v1/users/me", auth=(user, password))
            assert me.json()["user"]["username"] == user
        after = {u.username: u for u in SqlAuthStore(app.state.services.engine).list_users()}
        for user, *_ in ENTRIES.values():
            assert after[user].password_hash.startswith("$argon2id$"), user
        assert after["weak"].must_change_password and not after["ann"].must_change_password

        # In the browser, the weak user lands on the account page and changes the password.
        client.get("/login", headers={"Accept": "text/html"})
        csrf = client.cookies["mltrail_csrf"]
        login = client.post(
            "/login",
            data={"csrf_token": csrf, "username": "weak", "password": SHORT, "next": "/"},
            follow_redirects=False,
        )
        assert login.status_code == 303
        page = client.get("/", headers={"Accept": "text/html"}, follow_redirects=False)
        assert page.status_code == 303
        assert page.headers["location"].endswith("/account/tokens?done=must_change")
        notice = client.get(page.headers["location"], headers={"Accept": "text/html"})
        assert "too weak for this one" in notice.text
        new = "a-much-better-password-1"
        changed = client.post(
            "/account/password",
            data={
                "csrf_token": csrf,
                "current_password": SHORT,
                "new_password": new,
                "new_password_repeat": new,
            },
            follow_redirects=False,
        )
        assert changed.status_code == 303, changed.text
        assert client.get("/", headers={"Accept": "text/html"}).status_code == 200
        client.cookies.clear()
        assert client.get("/api/v1/users/me", auth=("weak", new)).status_code == 200
        assert client.get("/api/v1/users/me", auth=("weak", SHORT)).status_code == 401


def test_unknown_and_damaged_entries_are_reported_not_imported(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'm.db'}", default_artifact_root=str(tmp_path))
    auth = AuthService(store=SqlAuthStore(store.engine))
    auth.create_user("ann", STRONG)
    imported, skipped = auth.import_htpasswd(
        [
            "# a comment",
            "ann:$apr1$QxMP00nB$rzlxO2LKIA20t9Ax6jSeV0",  # exists already: left alone
            "yes:$y$j9T$abc$def",  # yescrypt: not something htpasswd writes
            "broken:{SHA}short",
            "no colon here",
            "bad name!:plainpassword-long",
        ]
    )
    store.close()
    assert imported == []
    assert len(skipped) == 5
    assert "already exists" in skipped[0] and "line 2" in skipped[0]
    assert "not a password hash" in skipped[1] and "not a password hash" in skipped[2]
    assert "not 'user:hash'" in skipped[3]
    assert "Invalid user name" in skipped[4]
