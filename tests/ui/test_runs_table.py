"""The runs table, driven by clicks: filter, bad filter, sort, columns, selection, CSV."""

from __future__ import annotations

import csv
import io
import re

import httpx
from playwright.sync_api import Page, expect

from .conftest import UI, Goto, PageWatch


def run_names(page: Page) -> list[str]:
    return page.locator("#runs-table tbody a.run-link").all_inner_texts()


def test_filter_with_the_search_grammar(page: Page, goto: Goto, ui: UI) -> None:
    goto(f"/experiments/{ui.data.main_experiment}")
    page.fill("#filter", "params.solver = 'saga'")
    page.click("#apply-filter")
    page.wait_for_load_state("networkidle")
    assert sorted(run_names(page)) == ["run-1-saga", "run-4-saga"]
    assert "filter=params.solver" in page.url  # the state is in the URL


def test_bad_filter_shows_a_clear_message(page: Page, goto: Goto, ui: UI) -> None:
    goto(f"/experiments/{ui.data.main_experiment}")
    page.fill("#filter", "metrics.rmse <")
    page.press("#filter", "Enter")
    page.wait_for_load_state("networkidle")
    banner = page.locator("#filter-error")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("This filter is not valid")
    expect(page.locator("#filter")).to_have_value("metrics.rmse <")


def test_quick_search_on_names(page: Page, goto: Goto, ui: UI) -> None:
    goto(f"/experiments/{ui.data.main_experiment}")
    page.fill("#q", "sweep")
    page.press("#q", "Enter")
    page.wait_for_load_state("networkidle")
    assert sorted(run_names(page)) == ["sweep-child-0", "sweep-child-1", "sweep-parent"]


def test_sort_by_clicking_a_metric_header(page: Page, goto: Goto, ui: UI) -> None:
    goto(f"/experiments/{ui.data.main_experiment}?filter=params.solver+!%3D+''")
    page.click("#runs-table th[data-col='metrics.rmse'] a")
    page.wait_for_load_state("networkidle")
    first = run_names(page)
    assert first[0] == "run-4-saga"  # rmse 0.7, descending first
    page.click("#runs-table th[data-col='metrics.rmse'] a")
    page.wait_for_load_state("networkidle")
    assert run_names(page)[0] == "run-0-lbfgs"
    assert "dir=asc" in page.url and "sort=metrics.rmse" in page.url


def test_choose_columns(page: Page, goto: Goto, ui: UI) -> None:
    goto(f"/experiments/{ui.data.main_experiment}")
    page.click("#columns summary")
    page.check("#columns-form input[value='tags.team']")
    page.uncheck("#columns-form input[value='metrics.loss']")
    page.click("#apply-columns")
    page.wait_for_load_state("networkidle")
    headers = page.locator("#runs-table thead th").all_inner_texts()
    assert any("team" in h for h in headers)
    assert not any(re.search(r"\bloss\b", h) for h in headers)
    row = page.locator("#runs-table tr", has_text="run-1-saga")
    expect(row).to_contain_text("vision")


def test_nested_runs_are_grouped_and_collapsible(page: Page, goto: Goto, ui: UI) -> None:
    goto(f"/experiments/{ui.data.main_experiment}")
    rows = page.locator("#runs-table tbody tr")
    ids = [rows.nth(i).get_attribute("data-run") for i in range(rows.count())]
    parent = ids.index(ui.data.parent)
    assert set(ids[parent + 1 : parent + 3]) == set(ui.data.children)
    child = page.locator(f"tr[data-run='{ui.data.children[0]}']")
    expect(child).to_be_visible()
    page.click(f"button.toggle-children[data-run='{ui.data.parent}']")
    expect(child).to_be_hidden()


def test_select_runs_and_compare(page: Page, goto: Goto, ui: UI) -> None:
    goto(f"/experiments/{ui.data.main_experiment}")
    expect(page.locator("#compare-selected")).to_be_disabled()
    for name in ("run-0-lbfgs", "run-2-newton-cg"):
        page.check(f"input[name=run][value='{ui.data.runs[name]}']")
    page.click("#compare-selected")
    page.wait_for_url(re.compile(r"/compare\?runs="))
    page.wait_for_load_state("networkidle")
    headers = page.locator("#compare-table thead th").all_inner_texts()
    assert "run-0-lbfgs" in headers and "run-2-newton-cg" in headers


def test_delete_and_restore_selected_runs(page: Page, goto: Goto, ui: UI, watch: PageWatch) -> None:
    watch.expected_confirms.append("Delete 1 run(s)?")
    victim = ui.data.children[1]
    goto(f"/experiments/{ui.data.main_experiment}")
    page.check(f"input[name=run][value='{victim}']")
    page.click("#delete-selected")
    page.wait_for_load_state("networkidle")
    expect(page.locator(f"tr[data-run='{victim}']")).to_have_count(0)
    page.select_option("#view", "deleted")
    page.wait_for_load_state("networkidle")
    page.check(f"input[name=run][value='{victim}']")
    page.click("#restore-selected")
    page.wait_for_load_state("networkidle")
    page.select_option("#view", "active")
    page.wait_for_load_state("networkidle")
    expect(page.locator(f"tr[data-run='{victim}']")).to_have_count(1)


def test_csv_download_follows_filter_and_columns(ui: UI) -> None:
    response = httpx.get(
        f"{ui.url}/experiments/{ui.data.main_experiment}/runs.csv",
        params={"filter": "params.solver = 'lbfgs'", "col": ["", "params.C", "metrics.rmse"]},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert sorted(r["run_name"] for r in rows) == ["run-0-lbfgs", "run-3-lbfgs"]
    assert {round(float(r["metrics.rmse"]), 9) for r in rows} == {0.3, 0.6}
    assert "params.C" in rows[0]


def test_paging(page: Page, goto: Goto, ui: UI) -> None:
    goto(f"/experiments/{ui.data.main_experiment}?size=25")
    expect(page.locator("#next-page")).to_have_count(0)
    goto(f"/experiments/{ui.data.main_experiment}?size=25&page=eyJvZmZzZXQiOiA1fQ")
    expect(page.locator(".pager")).to_contain_text("Runs 6\u20138")
    expect(page.locator("#first-page")).to_be_visible()
