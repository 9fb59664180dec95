"""The account page (tokens, password) and the users page for admins, through their forms."""

from __future__ import annotations

import re

import httpx

from .browser import HTML, csrf, error_message, sign_in
from .conftest import AuthServer

TOKEN_RE = re.compile(r'id="new-token-value"[^>]*value="(mlt_[0-9a-f]+_[\w-]+)"')


def _post(browser: httpx.Client, path: str, **fields: str) -> httpx.Response:
    return browser.post(path, data={"csrf_token": csrf(browser), **fields})


def _make_user(server: AuthServer, name: str, password: str) -> None:
    admin = sign_in(server, "admin")
    done = _post(admin, "/admin/users", username=name, password=password, password_repeat=password)
    assert done.status_code == 303, error_message(done)


def test_tokens_are_listed_created_once_and_revoked(auth_server: AuthServer) -> None:
    browser = sign_in(auth_server, "alice")
    page = browser.get("/account/tokens", headers=HTML)
    assert page.status_code == 200 and 'id="no-tokens"' in page.text
    assert page.headers["cache-control"] == "no-store"
    created = _post(browser, "/account/tokens", name="ci-job", expires_days="30")
    assert created.status_code == 200 and created.headers["cache-control"] == "no-store"
    token = TOKEN_RE.search(created.text)
    assert token is not None and "shown only this once" in created.text
    secret = token.group(1)
    # The token works for the API, and its last use shows on the page.
    api = httpx.Client(base_url=auth_server.url, headers={"Authorization": f"Bearer {secret}"})
    assert api.get("/api/v1/users/me").json()["user"]["username"] == "alice"
    listed = browser.get("/account/tokens").text
    assert "ci-job" in listed and secret not in listed
    row = re.search(r'<td class="token-name">ci-job</td>(.*?)</tr>', listed, re.S)
    assert row is not None and row.group(1).count("<time") == 3  # created, expires, last used
    prefix = secret.split("_")[1]
    assert f"mlt_{prefix}_" in listed
    # Names are unique per user; bad input is explained on the page.
    again = _post(browser, "/account/tokens", name="ci-job")
    assert again.status_code == 400 and "already exists" in error_message(again)
    bad_days = _post(browser, "/account/tokens", name="x", expires_days="soon")
    assert bad_days.status_code == 400 and "number of days" in error_message(bad_days)
    # Another user never sees alice's tokens.
    assert "ci-job" not in sign_in(auth_server, "bob").get("/account/tokens").text
    revoked = _post(browser, "/account/tokens/revoke", name="ci-job")
    assert revoked.status_code == 303 and revoked.headers["location"].endswith("done=revoked")
    assert api.get("/api/v1/users/me").status_code == 401
    assert "ci-job" not in browser.get("/account/tokens").text


def test_change_password(auth_server: AuthServer) -> None:
    old, new = "carol-password-old", "carol-password-new"
    _make_user(auth_server, "carol", old)
    browser = sign_in(auth_server, "carol", password=old)
    elsewhere = sign_in(auth_server, "carol", password=old)
    wrong = _post(
        browser,
        "/account/password",
        current_password="not-the-password",
        new_password=new,
        new_password_repeat=new,
    )
    assert wrong.status_code == 400 and error_message(wrong) == "The current password is wrong"
    differ = _post(
        browser,
        "/account/password",
        current_password=old,
        new_password=new,
        new_password_repeat=new + "x",
    )
    assert differ.status_code == 400 and "differ" in error_message(differ)
    short = _post(
        browser,
        "/account/password",
        current_password=old,
        new_password="short",
        new_password_repeat="short",
    )
    assert short.status_code == 400 and "12 characters" in error_message(short)
    done = _post(
        browser,
        "/account/password",
        current_password=old,
        new_password=new,
        new_password_repeat=new,
    )
    assert done.status_code == 303 and done.headers["location"].endswith("done=password")
    # This browser stays signed in (new session); the other session is over.
    assert browser.get("/account/tokens", headers=HTML).status_code == 200
    assert elsewhere.get("/", headers=HTML).status_code == 303
    assert httpx.get(f"{auth_server.url}/api/v1/users/me", auth=("carol", old)).status_code == 401
    assert httpx.get(f"{auth_server.url}/api/v1/users/me", auth=("carol", new)).status_code == 200


def test_admin_page_manages_users(auth_server: AuthServer) -> None:
    admin = sign_in(auth_server, "admin")
    page = admin.get("/admin/users", headers=HTML)
    assert page.status_code == 200 and "alice" in page.text and "bob" in page.text
    short = _post(
        admin, "/admin/users", username="dave", password="x" * 11, password_repeat="x" * 11
    )
    assert short.status_code == 400 and "12 characters" in error_message(short)
    bad_name = _post(
        admin, "/admin/users", username="<b>", password="x" * 12, password_repeat="x" * 12
    )
    assert (
        bad_name.status_code == 400 and "&lt;b&gt;" in bad_name.text and "<b>" not in bad_name.text
    )
    assert (
        _post(
            admin, "/admin/users", username="dave", password="d" * 12, password_repeat="d" * 12
        ).status_code
        == 303
    )
    twice = _post(
        admin, "/admin/users", username="dave", password="d" * 12, password_repeat="d" * 12
    )
    assert twice.status_code == 400 and "already exists" in error_message(twice)
    dave = sign_in(auth_server, "dave", password="d" * 12)
    assert dave.get("/admin/users").status_code == 404
    assert _post(admin, "/admin/users/dave/admin", is_admin="true").status_code == 303
    assert dave.get("/admin/users").status_code == 200  # the flag applies at once
    assert _post(admin, "/admin/users/dave/admin", is_admin="false").status_code == 303
    assert dave.get("/admin/users").status_code == 404
    reset = _post(admin, "/admin/users/dave/password", password="e" * 12, password_repeat="e" * 12)
    assert reset.status_code == 303
    assert dave.get("/", headers=HTML).status_code == 303  # the reset signed dave out
    dave = sign_in(auth_server, "dave", password="e" * 12)
    # An admin cannot lock the server out of administration from here.
    me = _post(admin, "/admin/users/admin/admin", is_admin="false")
    assert me.status_code == 400 and "own admin flag" in error_message(me)
    assert _post(admin, "/admin/users/admin/delete").status_code == 400
    assert _post(admin, "/admin/users/nobody/delete").status_code == 404
    assert _post(admin, "/admin/users/dave/delete").status_code == 303
    assert dave.get("/", headers=HTML).status_code == 303
    assert 'data-username="dave"' not in admin.get("/admin/users").text


def test_admin_pages_are_not_found_for_others(auth_server: AuthServer) -> None:
    bob = sign_in(auth_server, "bob")
    missing = bob.get("/account/no-such-page", headers=HTML)
    for method, path in (
        ("GET", "/admin/users"),
        ("POST", "/admin/users"),
        ("POST", "/admin/users/alice/delete"),
        ("POST", "/admin/users/bob/admin"),
        ("POST", "/admin/users/alice/password"),
    ):
        data = {"csrf_token": csrf(bob), "is_admin": "true", "username": "x", "password": "p" * 12, "password_repeat": "p" * 12}  # fmt: skip
        answer = bob.request(method, path, data=data if method == "POST" else None, headers=HTML)
        assert answer.status_code == 404, (path, answer.status_code)
        assert "alice" not in answer.text and "Users" not in answer.text.split("<main", 1)[-1]
    assert missing.status_code == 404
    assert "/admin/users" not in bob.get("/", headers=HTML).text
    assert "bob" in [
        u["username"] for u in auth_server.client("admin").get("/api/v1/users").json()["users"]
    ]
    assert auth_server.client("admin").get("/api/v1/users").status_code == 200
    assert not any(u["is_admin"] for u in auth_server.client("admin").get("/api/v1/users").json()["users"] if u["username"] == "bob")  # fmt: skip


def test_new_forms_refuse_a_missing_or_wrong_csrf_token(auth_server: AuthServer) -> None:
    admin = sign_in(auth_server, "admin")
    forms = {
        "/account/tokens": {"name": "csrf-probe"},
        "/account/tokens/revoke": {"name": "csrf-probe"},
        "/account/password": {
            "current_password": "admin-password-123",
            "new_password": "z" * 12,
            "new_password_repeat": "z" * 12,
        },
        "/admin/users": {"username": "mallory", "password": "m" * 12, "password_repeat": "m" * 12},
        "/admin/users/bob/admin": {"is_admin": "true"},
        "/admin/users/bob/password": {"password": "m" * 12, "password_repeat": "m" * 12},
        "/admin/users/bob/delete": {},
        "/logout": {},
    }
    for path, fields in forms.items():
        for token in (None, "wrong-token-wrong-token-wrong"):
            data = dict(fields) if token is None else {**fields, "csrf_token": token}
            answer = admin.post(path, data=data)
            assert answer.status_code == 403, (path, token, answer.status_code)
        # A cross-site post is refused even with the right token.
        cross = admin.post(
            path,
            data={**fields, "csrf_token": csrf(admin)},
            headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
        )
        assert cross.status_code == 403, path
    users = [
        u["username"] for u in auth_server.client("admin").get("/api/v1/users").json()["users"]
    ]
    assert "mallory" not in users and "bob" in users
    assert admin.get("/admin/users").status_code == 200  # still signed in, password unchanged
    assert "csrf-probe" not in admin.get("/account/tokens").text
    # The sharing dialog's JSON requests need the header too.
    alice = sign_in(auth_server, "alice")
    exp = alice.post(
        "/api/2.0/mlflow/experiments/create",
        json={"name": "csrf-share"},
        headers={"X-CSRF-Token": csrf(alice)},
    ).json()["experiment_id"]
    body = {"username": "bob", "permission": "READ"}
    path = f"/api/v1/permissions/experiments/{exp}"
    assert alice.put(path, json=body).status_code == 403
    assert (
        alice.put(path, json=body, headers={"X-CSRF-Token": "nope-nope-nope-nope"}).status_code
        == 403
    )
    assert alice.put(path, json=body, headers={"X-CSRF-Token": csrf(alice)}).status_code == 200
    assert alice.delete(f"{path}/bob").status_code == 403
    assert alice.delete(f"{path}/bob", headers={"X-CSRF-Token": csrf(alice)}).status_code == 200
