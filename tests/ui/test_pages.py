"""Every page loads in Chromium without console errors, with its security headers."""

from __future__ import annotations

import httpx
from playwright.sync_api import Page, expect

from .conftest import UI, Goto


def test_experiments_page_lists_runs_counts(page: Page, goto: Goto, ui: UI) -> None:
    goto("/")
    table = page.locator("#experiments-table")
    expect(table).to_contain_text("churn-model")
    row = table.locator("tr", has_text="churn-model")
    # 5 runs + a parent with 2 children
    expect(row.locator("td.num")).to_have_text("8")


def test_every_page_loads_without_errors(page: Page, goto: Goto, ui: UI) -> None:
    d = ui.data
    first = d.runs["run-0-lbfgs"]
    for path in (
        "/",
        "/?view=deleted",
        f"/experiments/{d.main_experiment}",
        f"/experiments/{d.empty_experiment}",
        f"/experiments/{d.xss_experiment}",
        f"/runs/{first}",
        f"/runs/{d.parent}",
        f"/runs/{d.xss_run}",
        f"/compare?runs={first},{d.runs['run-1-saga']},{d.parent}",
        "/compare",
    ):
        goto(path)
        expect(page.locator("h1").first).to_be_visible()


def test_empty_states_say_what_to_do(page: Page, goto: Goto, ui: UI) -> None:
    goto(f"/experiments/{ui.data.empty_experiment}")
    expect(page.locator("#runs-empty")).to_contain_text("No runs yet")
    goto("/compare")
    expect(page.locator("#compare-empty")).to_contain_text("Compare selected")


def test_security_headers_on_pages_and_api(ui: UI) -> None:
    first = ui.data.runs["run-0-lbfgs"]
    for path in ("/", f"/runs/{first}", f"/ui-api/artifacts?run_id={first}", "/no-such-run-x"):
        response = httpx.get(ui.url + path)
        if path.startswith("/no-such"):
            continue
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp, path
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"]


def test_missing_run_is_an_error_page_not_a_traceback(ui: UI) -> None:
    response = httpx.get(ui.url + "/runs/0123456789abcdef0123456789abcdef")
    assert response.status_code == 404
    assert "text/html" in response.headers["content-type"]
    assert "Traceback" not in response.text
    assert "content-security-policy" in response.headers


def test_ui_post_without_csrf_token_is_refused(ui: UI) -> None:
    with httpx.Client(base_url=ui.url) as client:
        page = client.get("/")
        assert "mltrail_csrf" in page.cookies
        refused = client.post("/experiments/create", data={"name": "sneaky"})
        assert refused.status_code == 403
        wrong = client.post("/experiments/create", data={"name": "sneaky", "csrf_token": "x" * 43})
        assert wrong.status_code == 403
        # A token with no cookie (a cross-site form) is refused as well.
        token = page.cookies["mltrail_csrf"]
        bare = httpx.post(ui.url + "/experiments/create", data={"name": "s", "csrf_token": token})
        assert bare.status_code == 403
        accepted = client.post("/experiments/create", data={"name": "csrf-ok", "csrf_token": token})
        assert accepted.status_code == 303
    names = httpx.get(ui.url + "/").text
    assert "sneaky" not in names and "csrf-ok" in names
