"""Model pages: registered models (list, search, versions, a version with its signature and how
to load it), an experiment's models and the models section of a run page.

The models are made by real clients (``mltrail.sklearn.log_model`` and the mlflow client); the
``page`` fixture fails any test on a console error or an opened dialog, so the XSS payloads in
names, tags and descriptions would fail them if they ran.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest
from playwright.sync_api import Page, expect

from .conftest import UI, Goto
from .seed import XSS, XSS_IMG
from .seed_models import SeededModels, seed_models


@pytest.fixture(scope="module")
def models(ui: UI) -> Iterator[SeededModels]:
    yield seed_models(ui.url)


def test_navigation_reaches_registered_models(page: Page, goto: Goto, models: SeededModels) -> None:
    goto("/")
    page.click("#nav-models")
    page.wait_for_load_state("networkidle")
    table = page.locator("#models-table")
    expect(table).to_contain_text(models.model_name)
    row = table.locator("tr", has=page.locator(f"a.model-link:text-is('{models.model_name}')"))
    expect(row).to_contain_text("Version 2")
    expect(row).to_contain_text("@champion → v2")
    expect(row).to_contain_text("Production")
    expect(row).to_contain_text("team: tabular")
    empty_row = table.locator(
        "tr", has=page.locator(f"a.model-link:text-is('{models.empty_model}')")
    )
    expect(empty_row).to_contain_text("no versions")


def test_search_by_name(page: Page, goto: Goto, models: SeededModels) -> None:
    goto("/models")
    page.fill("#q", "churn")
    page.press("#q", "Enter")
    page.wait_for_load_state("networkidle")
    expect(page.locator("#models-table a.model-link")).to_have_count(1)
    assert "q=churn" in page.url
    # Wildcards and quotes in the search text are matched literally.
    goto("/models?q=" + quote("%'_"))
    expect(page.locator("#models-empty")).to_contain_text("No registered model matches")
    page.click("#clear-search")
    page.wait_for_load_state("networkidle")
    assert page.locator("#models-table a.model-link").count() >= 3


def test_registered_model_page(page: Page, goto: Goto, models: SeededModels) -> None:
    goto(f"/models/{models.model_name}")
    expect(page.locator("#model-name")).to_have_text(models.model_name)
    expect(page.locator("#model-description h3")).to_have_text("Churn")
    expect(page.locator("#model-aliases")).to_contain_text("@champion → v2")
    rows = page.locator("#versions-table tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("Version 2")
    expect(rows.nth(0)).to_contain_text("Staging")
    expect(rows.nth(0)).to_contain_text("@champion")
    expect(rows.nth(1)).to_contain_text("Production")
    expect(rows.nth(1)).to_contain_text("validated: yes")
    expect(rows.nth(0).locator("a.run-link")).to_have_text("train-logreg")
    rows.nth(0).locator("a.run-link").click()
    page.wait_for_load_state("networkidle")
    assert page.url.endswith(f"/runs/{models.run_id}")


def test_version_page_shows_signature_and_loading(
    page: Page, goto: Goto, models: SeededModels
) -> None:
    goto(f"/models/{models.model_name}")
    page.click("#versions-table a.version-link:text-is('Version 1')")
    page.wait_for_load_state("networkidle")
    expect(page.locator("#version-title")).to_contain_text("version 1")
    snippet = page.locator("#load-snippet")
    expect(snippet).to_contain_text(f"mltrail.pyfunc.load_model('models:/{models.model_name}/1')")
    expect(snippet).to_contain_text(f"mlflow.pyfunc.load_model('models:/{models.model_name}/1')")
    signature = page.locator("#signature")
    expect(signature).to_contain_text("sklearn")
    expect(signature.locator("table.signature").first).to_contain_text("float64")
    expect(page.locator("#source-run")).to_have_text("train-logreg")
    goto(f"/models/{models.model_name}/versions/2")
    expect(page.locator(".load-snippet").nth(1)).to_contain_text(
        f"models:/{models.model_name}@champion"
    )


def test_version_snippet_loads_the_model(
    page: Page, goto: Goto, ui: UI, models: SeededModels
) -> None:
    """The mltrail lines the version page shows (by version and by alias) load the model."""
    import mltrail

    mltrail.set_tracking_uri(ui.url)  # the page's hint: point the client at this server
    goto(f"/models/{models.model_name}/versions/2")
    expected = [f"models:/{models.model_name}/2", f"models:/{models.model_name}@champion"]
    snippets = page.locator(".load-snippet").all_inner_texts()
    assert len(snippets) == 2
    for snippet, uri in zip(snippets, expected, strict=True):
        ours = snippet.split("\n\n", 1)[0]
        assert ours == f"import mltrail\nmodel = mltrail.pyfunc.load_model({uri!r})"
        shown: dict[str, object] = {}
        exec(ours, shown)  # the page's own lines, run as a user would paste them
        predict = shown["model"].predict  # type: ignore[attr-defined]
        assert int(predict([[0.9, 0.9]])[0]) in (0, 1)


def test_missing_model_and_bad_version_are_clean_errors(
    page: Page, ui: UI, models: SeededModels
) -> None:
    for path, status in (
        ("/models/no-such-model", 404),
        (f"/models/{models.model_name}/versions/99", 404),
        (f"/models/{models.model_name}/versions/abc", 400),
        ("/experiments/999999/models", 404),
    ):
        response = httpx.get(ui.url + path)
        assert response.status_code == status, (path, response.status_code)
        assert "Traceback" not in response.text
        assert response.headers["content-security-policy"].startswith("default-src 'self'")


def test_experiment_models_tab(page: Page, goto: Goto, models: SeededModels) -> None:
    goto(f"/experiments/{models.experiment_id}")
    page.click("#tab-models")
    page.wait_for_load_state("networkidle")
    logged = page.locator("#logged-models-table")
    expect(logged).to_contain_text("xss-lm")
    expect(logged).to_contain_text("classifier")
    expect(logged).to_contain_text(models.logged_model_id)
    versions = page.locator("#experiment-versions-table tbody tr")
    expect(versions).to_have_count(3)
    expect(page.locator("#experiment-versions-table")).to_contain_text(models.xss_name)
    page.click("#tab-runs")
    page.wait_for_load_state("networkidle")
    expect(page.locator("#runs-table")).to_contain_text("train-logreg")


def test_empty_states_say_what_to_do(page: Page, goto: Goto, ui: UI, models: SeededModels) -> None:
    goto(f"/experiments/{ui.data.empty_experiment}/models")
    expect(page.locator("#logged-empty")).to_contain_text("log_model")
    expect(page.locator("#versions-empty .register-snippet")).to_contain_text(
        "mlflow.register_model('runs:/<run_id>/model', 'my-model')"
    )
    goto(f"/models/{models.empty_model}")
    expect(page.locator("#versions-empty .register-snippet")).to_contain_text(
        f"'{models.empty_model}'"
    )
    goto(f"/runs/{models.empty_run_id}")
    expect(page.locator("#run-models-empty")).to_contain_text(
        'mltrail.sklearn.log_model(model, "model")'
    )


def test_run_page_models_section(page: Page, goto: Goto, models: SeededModels) -> None:
    goto(f"/runs/{models.run_id}")
    section = page.locator("#models")
    folder = section.locator(".model-folder[data-path='model']")
    expect(folder).to_contain_text("sklearn")
    expect(folder.locator(".load-snippet")).to_contain_text(
        f"load_model('runs:/{models.run_id}/model')"
    )
    expect(section.locator("#run-logged-models")).to_contain_text("xss-lm")
    versions = section.locator("#run-model-versions tbody tr")
    expect(versions).to_have_count(3)
    section.locator(
        f"#run-model-versions a.version-link[href$='/{models.model_name}/versions/2']"
    ).click()
    page.wait_for_load_state("networkidle")
    expect(page.locator("#version-title")).to_contain_text("version 2")


def test_xss_in_model_names_tags_descriptions(page: Page, goto: Goto, models: SeededModels) -> None:
    goto("/models")
    table = page.locator("#models-table")
    expect(table).to_contain_text(models.xss_name)
    assert table.locator("img, svg, script").count() == 0
    goto(f"/models/{quote(models.xss_name, safe='')}")
    expect(page.locator("#model-name")).to_have_text(models.xss_name)
    expect(page.locator("#model-tags")).to_contain_text(XSS)
    expect(page.locator("#model-description")).to_contain_text(XSS_IMG)
    assert page.locator("main img, main svg, main script").count() == 0
    page.click("#versions-table a.version-link")
    page.wait_for_load_state("networkidle")
    expect(page.locator("#version-title")).to_contain_text(models.xss_name)
    expect(page.locator("#version-tags")).to_contain_text(XSS)
    expect(page.locator("#load-snippet")).to_contain_text(models.xss_name)
    assert page.locator("main img, main svg, main script").count() == 0
    goto(f"/models/{models.model_name}/versions/2")
    expect(page.locator("#version-description")).to_contain_text(XSS_IMG)
    expect(page.locator("#version-tags")).to_contain_text(XSS)
    assert page.locator("main img, main svg, main script").count() == 0
    goto(f"/experiments/{models.experiment_id}/models")
    expect(page.locator("#logged-models-table")).to_contain_text(XSS_IMG)
    assert page.locator("main img, main svg, main script").count() == 0
