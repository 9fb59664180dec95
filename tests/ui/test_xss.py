"""Stored XSS payloads in every text field stay text: no dialog ever opens, no script runs.

The ``page`` fixture fails a test on any dialog; these tests also check the payload is shown
literally, so they cannot pass by not showing it.
"""

from __future__ import annotations

import httpx
from playwright.sync_api import Page, expect

from .conftest import UI, Goto
from .seed import XSS, XSS_IMG


def test_experiment_and_run_names(page: Page, goto: Goto, ui: UI) -> None:
    goto("/")
    expect(page.locator("#experiments-table")).to_contain_text(XSS)
    goto(f"/experiments/{ui.data.xss_experiment}")
    expect(page.locator("h1")).to_contain_text(XSS)
    expect(page.locator("#runs-table")).to_contain_text("xss " + XSS)
    page.click("#columns summary")
    page.check("#columns-form input[value='params.p xss']")
    page.check("#columns-form input[value='tags.t:xss']")
    page.click("#apply-columns")
    page.wait_for_load_state("networkidle")
    expect(page.locator("#runs-table tbody")).to_contain_text(XSS)
    assert page.locator("#runs-table img").count() == 0


def test_run_page_fields(page: Page, goto: Goto, ui: UI) -> None:
    goto(f"/runs/{ui.data.xss_run}")
    expect(page.locator("#run-name")).to_have_text("xss " + XSS)
    expect(page.locator("#params-table")).to_contain_text(XSS)
    expect(page.locator("#tags-table")).to_contain_text(XSS)
    description = page.locator("#description-view")
    expect(description).to_contain_text(XSS_IMG)
    # Markdown links only accept http(s) or relative targets.
    assert description.locator("a[href^='javascript']").count() == 0
    assert description.locator("img, script").count() == 0
    expect(page.locator(".chart[data-key='m/xss'][data-rendered='1']")).to_have_count(1)
    page.wait_for_timeout(300)


def test_artifact_previews_never_render_markup(page: Page, goto: Goto, ui: UI) -> None:
    goto(f"/runs/{ui.data.xss_run}")
    preview = page.locator("#artifact-preview")
    for path, expected in (
        ("page.html", "<script>alert(1)</script>"),
        ("image.svg", 'onload="alert(1)"'),
        ("data.json", "onerror"),
        ("table.csv", XSS),
    ):
        page.click(f"#artifact-tree button[data-path='{path}']")
        page.wait_for_load_state("networkidle")
        expect(preview).to_contain_text(expected)
        assert preview.locator("script, svg, iframe, img, object, embed").count() == 0
    page.click("#artifact-tree button[data-path='dir']")
    page.wait_for_load_state("networkidle")
    odd = page.locator("#artifact-tree button", has_text=XSS_IMG + ".txt")
    expect(odd).to_have_count(1)
    odd.click()
    page.wait_for_load_state("networkidle")
    expect(preview.locator("pre")).to_contain_text(XSS)
    page.wait_for_timeout(300)


def test_compare_page_with_payloads(page: Page, goto: Goto, ui: UI) -> None:
    goto(f"/compare?runs={ui.data.xss_run},{ui.data.runs['run-0-lbfgs']}")
    expect(page.locator("#compare-table")).to_contain_text(XSS)
    page.wait_for_timeout(300)


def test_raw_svg_and_html_are_downloads_in_a_sandbox(ui: UI) -> None:
    for path in ("image.svg", "page.html"):
        response = httpx.get(
            f"{ui.url}/ui-api/artifact-raw", params={"run_id": ui.data.xss_run, "path": path}
        )
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/octet-stream"
        assert response.headers["content-disposition"].startswith("attachment")
        assert "sandbox" in response.headers["content-security-policy"]
        assert response.headers["x-content-type-options"] == "nosniff"


def test_artifact_paths_are_checked(ui: UI) -> None:
    for path in ("../../../etc/passwd", "/etc/passwd", "a/../../x"):
        response = httpx.get(
            f"{ui.url}/ui-api/artifact-preview", params={"run_id": ui.data.xss_run, "path": path}
        )
        assert response.status_code == 400, path
        assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
