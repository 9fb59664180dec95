"""The compare page: differing rows, overlaid charts, parallel coordinates, scatter."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from .conftest import UI, Goto
from .test_run_page import canvas_has_ink


def compare_path(ui: UI) -> str:
    runs = ui.data.runs
    return "/compare?runs=" + ",".join([runs["run-0-lbfgs"], runs["run-3-lbfgs"], ui.data.parent])


def test_table_can_show_only_differing_rows(page: Page, goto: Goto, ui: UI) -> None:
    goto(compare_path(ui))
    table = page.locator("#compare-table")
    expect(table.locator("tr[data-key='params.solver']")).to_have_count(1)
    page.check("#only-diff")
    page.wait_for_url(re.compile(r"diff=1"))
    page.wait_for_load_state("networkidle")
    # run-0 and run-3 both use lbfgs and the parent has no solver: still differing.
    expect(table.locator("tr[data-key='params.C']")).to_have_count(1)
    goto(
        "/compare?diff=1&runs="
        + ",".join([ui.data.runs["run-0-lbfgs"], ui.data.runs["run-3-lbfgs"]])
    )
    expect(page.locator("#compare-table tr[data-key='params.solver']")).to_have_count(0)
    expect(page.locator("#compare-table tr[data-key='params.seed']")).to_have_count(1)


def test_overlaid_charts_have_a_legend_per_run(page: Page, goto: Goto, ui: UI) -> None:
    goto(compare_path(ui))
    chart = page.locator(".chart[data-key='loss']")
    expect(chart).to_have_attribute("data-rendered", "1")
    legend = chart.locator(".u-legend").inner_text()
    assert "run-0-lbfgs" in legend and "run-3-lbfgs" in legend
    assert canvas_has_ink(page, ".chart[data-key='loss'] canvas")


def test_parallel_coordinates_and_scatter(page: Page, goto: Goto, ui: UI) -> None:
    goto(compare_path(ui) + "&sx=params.C&sy=metrics.rmse")
    expect(page.locator("#pc-canvas")).to_have_attribute("data-rendered", "3")
    assert canvas_has_ink(page, "#pc-canvas")
    expect(page.locator("#scatter-x")).to_have_value("params.C")
    expect(page.locator("#scatter-y")).to_have_value("metrics.rmse")
    # The parent run has neither C nor rmse: two points.
    expect(page.locator("#scatter-canvas")).to_have_attribute("data-rendered", "2")
    page.select_option("#scatter-y", "metrics.loss")
    page.wait_for_function("() => new URL(location.href).searchParams.get('sy') === 'metrics.loss'")
    assert canvas_has_ink(page, "#scatter-canvas")


def test_metric_chooser(page: Page, goto: Goto, ui: UI) -> None:
    goto(compare_path(ui))
    page.click("#metric-chooser summary")
    page.uncheck("#metric-chooser input[value='accuracy']")
    page.click("#metric-chooser button")
    page.wait_for_load_state("networkidle")
    expect(page.locator(".chart[data-key='accuracy']")).to_have_count(0)
    expect(page.locator(".chart[data-key='loss']")).to_have_count(1)
