"""The run page: charts (rendered, zoom re-fetches), artifact previews, editable fields."""

from __future__ import annotations

from playwright.sync_api import Page, Request, expect

from .conftest import UI, Goto


def canvas_has_ink(page: Page, selector: str) -> bool:
    """True when the canvas under ``selector`` has at least one non-transparent pixel."""
    result: bool = page.eval_on_selector(
        selector,
        """c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                  for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) return true;
                  return false; }""",
    )
    return result


def test_run_page_shows_everything(page: Page, goto: Goto, ui: UI) -> None:
    goto(f"/runs/{ui.data.runs['run-0-lbfgs']}")
    overview = page.locator("#run-overview")
    expect(overview).to_contain_text("train.py")
    expect(overview).to_contain_text("00abab")  # git commit
    expect(overview).to_contain_text("10m 00s")
    expect(page.locator("#params-table")).to_contain_text("lbfgs")
    loss = page.locator("#metrics-table tr", has_text="loss")
    expect(loss).to_contain_text("3.2")  # max keeps the spike
    expect(page.locator("#description-view strong")).to_have_text("first")


def test_a_chart_per_metric_is_drawn(page: Page, goto: Goto, ui: UI) -> None:
    goto(f"/runs/{ui.data.runs['run-0-lbfgs']}")
    charts = page.locator(".chart[data-key]")
    assert charts.count() == 3
    expect(page.locator(".chart[data-key='loss'][data-rendered='1']")).to_have_count(1)
    assert canvas_has_ink(page, ".chart[data-key='loss'] canvas")
    # The spike at step 200 (value > 3) survives downsampling: the y axis reaches 3.
    expect(page.locator(".chart[data-key='loss'] .status")).to_contain_text("points shown")


def test_zoom_fetches_the_visible_range_again(page: Page, goto: Goto, ui: UI) -> None:
    goto(f"/runs/{ui.data.runs['run-0-lbfgs']}")
    expect(page.locator(".chart[data-key='loss'][data-rendered='1']")).to_have_count(1)
    ranged: list[str] = []

    def on_request(request: Request) -> None:
        if "metric-history" in request.url and "start_step" in request.url:
            ranged.append(request.url)

    page.on("request", on_request)
    over = page.locator(".chart[data-key='loss'] .u-over")
    over.scroll_into_view_if_needed()
    box = over.bounding_box()
    assert box is not None
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.2, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.5, y, steps=5)
    page.mouse.up()
    page.wait_for_load_state("networkidle")
    page.wait_for_function("() => new URL(location.href).searchParams.has('zoom')")
    assert ranged, "zooming did not fetch the visible range"
    assert any("key=loss" in url for url in ranged)
    # Every chart follows the zoom (x axes are synchronised).
    assert any("key=accuracy" in url for url in ranged)
    # Reset zoom via the button: the URL loses the zoom.
    page.click("#reset-zoom")
    page.wait_for_function("() => !new URL(location.href).searchParams.has('zoom')")


def test_chart_controls_live_in_the_url(page: Page, goto: Goto, ui: UI) -> None:
    goto(f"/runs/{ui.data.runs['run-0-lbfgs']}?x=relative&log=1&smooth=0.5")
    expect(page.locator("#x-axis")).to_have_value("relative")
    expect(page.locator("#log-scale")).to_be_checked()
    expect(page.locator(".chart[data-key='loss'][data-rendered='1']")).to_have_count(1)
    page.select_option("#x-axis", "wall")
    page.wait_for_function("() => new URL(location.href).searchParams.get('x') === 'wall'")
    page.uncheck("#log-scale")
    page.wait_for_function("() => !new URL(location.href).searchParams.has('log')")


def open_artifact(page: Page, path: str) -> None:
    page.click(f'#artifact-tree button[data-path="{path}"]')
    page.wait_for_load_state("networkidle")


def test_artifact_previews(page: Page, goto: Goto, ui: UI) -> None:
    goto(f"/runs/{ui.data.runs['run-0-lbfgs']}")
    preview = page.locator("#artifact-preview")
    open_artifact(page, "metrics.csv")
    expect(preview.locator("table.artifact-table th")).to_have_text(["epoch", "loss", "acc"])
    expect(preview.locator("table.artifact-table tbody tr")).to_have_count(3)
    open_artifact(page, "config.json")
    expect(preview.locator("pre[data-kind='json']")).to_contain_text('"layers"')
    open_artifact(page, "params.yaml")
    expect(preview.locator("pre[data-kind='yaml']")).to_contain_text("lr: 0.01")
    open_artifact(page, "notes.txt")
    expect(preview.locator("pre")).to_contain_text("plain text notes")
    open_artifact(page, "plot.png")
    image = preview.locator("img.artifact-image")
    expect(image).to_be_visible()
    page.wait_for_function("() => document.querySelector('img.artifact-image').naturalWidth === 32")
    assert "artifact=plot.png" in page.url


def test_model_folder_shows_signature_and_how_to_load(page: Page, goto: Goto, ui: UI) -> None:
    run_id = ui.data.runs["run-0-lbfgs"]
    goto(f"/runs/{run_id}")
    open_artifact(page, "model")
    preview = page.locator("#artifact-preview")
    expect(preview).to_contain_text("python_function, sklearn")
    expect(preview.locator("table.signature").first).to_contain_text("bmi")
    expect(preview.locator("pre.load-snippet")).to_contain_text(f"runs:/{run_id}/model")
    # The folder opened in the tree too.
    expect(page.locator("#artifact-tree button[data-path='model/MLmodel']")).to_be_visible()


def test_artifact_from_the_url_is_reopened(page: Page, goto: Goto, ui: UI) -> None:
    goto(f"/runs/{ui.data.runs['run-0-lbfgs']}?artifact=model/requirements.txt")
    expect(page.locator("#artifact-preview pre")).to_contain_text("scikit-learn")


def test_edit_description_and_tags(page: Page, goto: Goto, ui: UI) -> None:
    run_id = ui.data.runs["run-2-newton-cg"]
    goto(f"/runs/{run_id}")
    page.click("#edit-description")
    page.fill("#description-text", "Tried **newton-cg**\n\n- fast\n- stable")
    page.click("#description-form button[type=submit]")
    page.wait_for_load_state("networkidle")
    expect(page.locator("#description-view strong")).to_have_text("newton-cg")
    expect(page.locator("#description-view li")).to_have_count(2)
    page.fill("#tag-form input[name=key]", "reviewed")
    page.fill("#tag-form input[name=value]", "yes")
    page.click("#tag-form button")
    page.wait_for_load_state("networkidle")
    row = page.locator("#tags-table tr", has_text="reviewed")
    expect(row).to_contain_text("yes")
    row.locator("button", has_text="Delete").click()
    page.wait_for_load_state("networkidle")
    expect(page.locator("#tags-table tr", has_text="reviewed")).to_have_count(0)
