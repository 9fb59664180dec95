"""The dashboard with authentication on, in Chromium: login, logout, account, users, sharing.

Every page fixture fails on a console error or an unexpected dialog, so the XSS payloads
below (token names, user names, sharing) would fail the test if they ran.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, expect

from security.conftest import PASSWORDS, AuthServer, start_auth_server

from .conftest import PageWatch

PAYLOAD = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthServer]:
    found, proc = start_auth_server(tmp_path_factory.mktemp("auth-ui"))
    try:
        yield found
    finally:
        found.close_clients()
        proc.terminate()
        proc.wait(timeout=40)


@pytest.fixture(scope="module")
def experiment(server: AuthServer) -> str:
    alice = server.client("alice")
    created = alice.post("/api/2.0/mlflow/experiments/create", json={"name": "alice-ui"})
    exp: str = created.json()["experiment_id"]
    alice.post("/api/2.0/mlflow/runs/create", json={"experiment_id": exp, "run_name": "r1"})
    return exp


def sign_in(page: Page, server: AuthServer, user: str, path: str = "/") -> None:
    page.goto(server.url + path)
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(PASSWORDS[user])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("networkidle")


def test_login_returns_to_the_page_and_logout_ends_the_session(
    page: Page, server: AuthServer, experiment: str
) -> None:
    sign_in(page, server, "alice", f"/experiments/{experiment}?view=all")
    expect(page).to_have_url(f"{server.url}/experiments/{experiment}?view=all")
    expect(page.locator("#account-link")).to_have_text("alice")
    expect(page.locator("h1")).to_contain_text("alice-ui")
    expect(page.locator("#nav-admin-users")).to_have_count(0)
    page.locator("#logout").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    # The back button does not bring the signed-in page back.
    page.go_back()
    page.wait_for_load_state("networkidle")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    expect(page.locator("#account-link")).to_have_count(0)
    page.goto(server.url + "/account/tokens")
    expect(page).to_have_url(re.compile(r"/login\?next="))


def test_wrong_password_and_payload_user_name(
    page: Page, server: AuthServer, watch: PageWatch
) -> None:
    page.goto(server.url + "/login")
    page.get_by_label("User name").fill(PAYLOAD)
    page.get_by_label("Password").fill("whatever-whatever")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Invalid username or password")
    # The failed login is answered 401, which the browser logs; nothing else may be logged.
    assert len(watch.errors) == 1 and "status of 401" in watch.errors[0]
    watch.errors.clear()


def test_tokens_page(page: Page, server: AuthServer, watch: PageWatch) -> None:
    sign_in(page, server, "bob")
    page.locator("#account-link").click()
    expect(page).to_have_url(f"{server.url}/account/tokens")
    expect(page.locator("#no-tokens")).to_be_visible()
    form = page.locator("#create-token")
    form.get_by_label("Name").fill(PAYLOAD)
    form.get_by_label("Expires after").fill("7")
    form.get_by_role("button", name="Create token").click()
    value = page.locator("#new-token-value")
    expect(value).to_be_focused()
    token = value.input_value()
    assert re.fullmatch(r"mlt_[0-9a-f]+_[\w-]+", token)
    expect(page.locator("#new-token")).to_contain_text("shown only this once")
    expect(page.locator("#tokens-table .token-name")).to_have_text([PAYLOAD])
    me = httpx.get(f"{server.url}/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["user"]["username"] == "bob"
    page.goto(server.url + "/account/tokens")  # shown once: not on the next visit
    expect(page.locator("#new-token-value")).to_have_count(0)
    watch.expected_confirms.append("Revoke this token?")
    page.get_by_role("button", name=f"Revoke {PAYLOAD}").click()
    expect(page.locator("#account-notice")).to_contain_text("revoked")
    expect(page.locator("#no-tokens")).to_be_visible()


def test_users_page_for_admins(page: Page, server: AuthServer, watch: PageWatch) -> None:
    sign_in(page, server, "admin")
    page.locator("#nav-admin-users").click()
    expect(page).to_have_url(f"{server.url}/admin/users")
    form = page.locator("#create-user")
    # A user name with markup is refused, and the message shows it as text.
    form.get_by_label("User name").evaluate("e => e.removeAttribute('pattern')")
    form.get_by_label("User name").fill(PAYLOAD)
    form.get_by_label("Password (at least 12 characters)").fill("p" * 12)
    form.get_by_label("Repeat the password").fill("p" * 12)
    form.get_by_role("button", name="Create user").click()
    expect(page.locator("#admin-error")).to_contain_text("Invalid user name")
    expect(page.locator("#admin-error")).to_contain_text(PAYLOAD)
    assert len(watch.errors) == 1 and "status of 400" in watch.errors[0]  # the refused form
    watch.errors.clear()
    form = page.locator("#create-user")
    form.get_by_label("User name").fill("erin")
    form.get_by_label("Password (at least 12 characters)").fill("e" * 12)
    form.get_by_label("Repeat the password").fill("e" * 12)
    form.get_by_role("button", name="Create user").click()
    expect(page.locator("#admin-notice")).to_have_text("User created.")
    row = page.locator('tr[data-username="erin"]')
    row.get_by_role("button", name="Make admin").click()
    expect(page.locator("#admin-notice")).to_have_text("Admin flag changed.")
    expect(row.get_by_role("button", name="Remove admin")).to_be_visible()
    row.locator("summary").click()
    row.get_by_label("New password").fill("f" * 12)
    row.get_by_label("Repeat").fill("f" * 12)
    row.get_by_role("button", name="Reset password").click()
    expect(page.locator("#admin-notice")).to_contain_text("Password reset")
    assert httpx.get(f"{server.url}/api/v1/users/me", auth=("erin", "f" * 12)).status_code == 200
    watch.expected_confirms.append("Delete this user?")
    row.get_by_role("button", name="Delete user").click()
    expect(page.locator("#admin-notice")).to_contain_text("User deleted")
    expect(page.locator('tr[data-username="erin"]')).to_have_count(0)


def test_groups_page_for_admins(page: Page, server: AuthServer, watch: PageWatch) -> None:
    sign_in(page, server, "admin")
    page.locator("#nav-admin-groups").click()
    expect(page).to_have_url(f"{server.url}/admin/groups")
    form = page.locator("#create-group")
    form.get_by_label("Group name").fill("modellers")
    form.get_by_label("Members").fill("alice")
    form.get_by_role("button", name="Create group").click()
    expect(page.locator("#admin-notice")).to_have_text("Group created.")
    row = page.locator('tr[data-group="modellers"]')
    expect(row.locator("li[data-member]")).to_have_text([re.compile("^alice")])
    row.get_by_label("User to add to modellers").select_option("bob")
    row.get_by_role("button", name="Add", exact=True).click()
    expect(page.locator("#admin-notice")).to_have_text("Member added.")
    expect(row.locator("li[data-member]")).to_have_count(2)
    # The users page shows each user's groups.
    page.goto(server.url + "/admin/users")
    expect(page.locator('tr[data-username="bob"] .user-groups')).to_contain_text("modellers")
    page.goto(server.url + "/admin/groups")
    row.get_by_role("button", name="Remove bob from modellers").click()
    expect(page.locator("#admin-notice")).to_have_text("Member removed.")
    watch.expected_confirms.append("Delete this group?")
    row.get_by_role("button", name="Delete group").click()
    expect(page.locator("#admin-notice")).to_contain_text("Group deleted")
    expect(page.locator('tr[data-group="modellers"]')).to_have_count(0)
    # Not an admin: the page does not exist.
    assert (
        server.client("bob").get("/admin/groups", headers={"Accept": "text/html"}).status_code
        == 404
    )


def test_users_page_is_not_found_for_others(
    page: Page, server: AuthServer, watch: PageWatch
) -> None:
    sign_in(page, server, "bob")
    response = page.goto(server.url + "/admin/users")
    assert response is not None and response.status == 404
    expect(page.locator("h1")).to_have_text("Not found")
    # The browser logs the 404 of the page itself; nothing else may be logged.
    assert len(watch.errors) == 1 and "status of 404" in watch.errors[0]
    watch.errors.clear()


def test_sharing_dialog(page: Page, server: AuthServer, experiment: str, watch: PageWatch) -> None:
    sign_in(page, server, "alice", f"/experiments/{experiment}")
    page.locator("#sharing-open").click()
    dialog = page.locator("#sharing-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("tr[data-username='alice'] .grant-level")).to_have_value("MANAGE")
    dialog.get_by_label("User name").fill("bob")
    dialog.locator("#sharing-level").select_option("READ")
    dialog.get_by_role("button", name="Grant").click()
    expect(dialog.locator("#sharing-status")).to_have_text("bob now has READ.")
    bob_row = dialog.locator("tr[data-username='bob']")
    expect(bob_row.locator(".grant-level")).to_have_value("READ")
    bob = server.client("bob")
    assert bob.get(f"/api/v1/experiments/{experiment}").status_code == 200
    bob_row.locator(".grant-level").select_option("EDIT")
    expect(dialog.locator("#sharing-status")).to_have_text("bob now has EDIT.")
    grants = server.client("alice").get(f"/api/v1/permissions/experiments/{experiment}").json()
    assert {"resource": experiment, "username": "bob", "permission": "EDIT"} in grants[
        "permissions"
    ]
    bob_row.get_by_role("button", name="Revoke").click()
    expect(dialog.locator("#sharing-status")).to_have_text("Revoked the grant of bob.")
    expect(dialog.locator("tr[data-username='bob']")).to_have_count(0)
    assert bob.get(f"/api/v1/experiments/{experiment}").status_code == 404
    # An unknown (hostile) user name: the server's message is shown as text.
    dialog.get_by_label("User name").fill(PAYLOAD)
    dialog.get_by_role("button", name="Grant").click()
    expect(dialog.locator("#sharing-status")).to_contain_text("not found")
    expect(dialog.locator("#sharing-status")).to_contain_text(PAYLOAD)
    # The browser reports the refused request itself; no other error is allowed.
    watch.errors[:] = [e for e in watch.errors if "status of 404" not in e]
    summary = dialog.locator("#sharing-summary")
    expect(summary).to_contain_text("Nobody else can see this experiment")
    # A group: granted, shown as a group, then revoked.
    admin = server.client("admin")
    admin.post("/api/v1/groups", json={"name": "ui-team"}).raise_for_status()
    admin.put("/api/v1/groups/ui-team/members/bob").raise_for_status()
    dialog.locator("#sharing-kind").select_option("group")
    dialog.get_by_label("Group name").fill("ui-team")
    dialog.locator("#sharing-level").select_option("EDIT")
    dialog.get_by_role("button", name="Grant").click()
    expect(dialog.locator("#sharing-status")).to_have_text("group ui-team now has EDIT.")
    group_row = dialog.locator("tr[data-group='ui-team']")
    expect(group_row.locator(".grant-level")).to_have_value("EDIT")
    assert bob.get(f"/api/v1/experiments/{experiment}").status_code == 200
    group_row.get_by_role("button", name="Revoke").click()
    expect(dialog.locator("#sharing-status")).to_have_text("Revoked the grant of group ui-team.")
    assert bob.get(f"/api/v1/experiments/{experiment}").status_code == 404
    # Everyone signed in: the switch and what the dialog then says.
    dialog.locator("#sharing-signed-in").select_option("READ")
    expect(dialog.locator("#sharing-status")).to_have_text("Everyone signed in may now READ.")
    expect(summary).to_contain_text("Every other signed-in user may READ")
    expect(summary).to_contain_text("open to everyone signed in")
    assert bob.get(f"/api/v1/experiments/{experiment}").status_code == 200
    dialog.locator("#sharing-signed-in").select_option("NONE")
    expect(summary).to_contain_text("Nobody else can see this experiment")
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()


def test_sharing_dialog_tells_the_truth_under_a_read_default(
    page: Page, tmp_path_factory: pytest.TempPathFactory, watch: PageWatch
) -> None:
    found, proc = start_auth_server(
        tmp_path_factory.mktemp("auth-ui-read"), extra_env={"MLTRAIL_DEFAULT_PERMISSION": "READ"}
    )
    try:
        alice = found.client("alice")
        exp = alice.post("/api/2.0/mlflow/experiments/create", json={"name": "open"}).json()
        sign_in(page, found, "alice", f"/experiments/{exp['experiment_id']}")
        page.locator("#sharing-open").click()
        summary = page.locator("#sharing-summary")
        expect(summary).to_contain_text("Every other signed-in user may READ")
        expect(summary).to_contain_text("the server's default permission is READ")
        # bob really may read it, as the dialog says.
        bob = found.client("bob")
        assert bob.get(f"/api/v1/experiments/{exp['experiment_id']}").status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=40)
