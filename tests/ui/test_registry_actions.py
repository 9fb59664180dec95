"""Changing the model registry from the dashboard, in Chromium: register a version from a run's
model and from a logged model, set and move an alias, tags and descriptions, archive, and
delete a version and the model. (The same actions under authentication, with permissions and
CSRF, are tested in tests/security/test_registry_ui_actions.py.)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Page, expect

import mltrail
from mltrail.client.tracking_client import TrackingClient

from .conftest import UI, Goto, PageWatch
from .seed import XSS

NAME = "ui-registered"


@dataclass
class Trained:
    experiment_id: str
    run_id: str
    model_id: str


@pytest.fixture(scope="module")
def trained(ui: UI) -> Iterator[Trained]:
    from sklearn.linear_model import LogisticRegression

    experiment_id = TrackingClient(ui.url).create_experiment("registry-actions")
    mltrail.set_tracking_uri(ui.url)
    mltrail.set_experiment(experiment_id=experiment_id)
    with mltrail.start_run(run_name="to-register") as run:
        model = LogisticRegression().fit([[0.0], [1.0], [0.2], [0.9]], [0, 1, 0, 1])
        mltrail.sklearn.log_model(model, "model", input_example=[[0.5]])
    logged = TrackingClient(ui.url).search_logged_models([experiment_id])
    yield Trained(experiment_id, run.info.run_id, logged[0].model_id)


def test_register_alias_tags_archive_delete(
    page: Page, goto: Goto, trained: Trained, watch: PageWatch
) -> None:
    goto(f"/runs/{trained.run_id}")
    models = page.locator("#models")
    # The run page lists its logged model with a link to the model's own page.
    link = models.locator("a.logged-model-link")
    expect(link).to_have_text("model")
    link.click()
    page.wait_for_load_state("networkidle")
    expect(page).to_have_url(
        f"{page.url.split('/experiments/')[0]}/experiments/{trained.experiment_id}/models/{trained.model_id}"
    )
    expect(page.locator("#logged-model-no-versions")).to_be_visible()
    page.go_back()
    page.wait_for_load_state("networkidle")

    # Register a version from the run's model folder: the model is created on the way.
    form = models.locator("form.register-form").first
    form.locator("input[name=name]").fill(NAME)
    form.get_by_role("button", name="Register version").click()
    page.wait_for_load_state("networkidle")
    assert page.url.endswith(f"/models/{NAME}/versions/1?done=registered")
    expect(page.locator("#version-notice")).to_have_text("Version registered.")
    expect(page.locator("#source-run")).to_have_text("to-register")

    # And a second one from the logged model's page.
    goto(f"/experiments/{trained.experiment_id}/models/{trained.model_id}")
    register = page.locator("#register-logged-model")
    register.locator("input[name=name]").fill(NAME)
    register.get_by_role("button", name="Register version").click()
    page.wait_for_load_state("networkidle")
    assert page.url.endswith(f"/models/{NAME}/versions/2?done=registered")
    expect(page.locator("#logged-model-link")).to_have_text(trained.model_id)

    # Aliases: set on v1, then moved to v2.
    goto(f"/models/{NAME}")
    alias = page.locator("#alias-form")
    alias.get_by_label("Alias").fill("champion")
    alias.get_by_label("→ version").select_option("1")
    alias.get_by_role("button", name="Set alias").click()
    expect(page.locator("#model-aliases")).to_contain_text("@champion → v1")
    alias.get_by_label("Alias").fill("champion")
    alias.get_by_label("→ version").select_option("2")
    alias.get_by_role("button", name="Set alias").click()
    expect(page.locator("#model-aliases")).to_contain_text("@champion → v2")
    expect(page.locator("#model-aliases")).not_to_contain_text("v1")

    # Tags and the description, with markup shown as text.
    tag = page.locator("#model-tag-form")
    tag.get_by_label("Tag key").fill("team")
    tag.get_by_label("Tag value").fill(XSS)
    tag.get_by_role("button", name="Set tag").click()
    expect(page.locator("#model-tags tr[data-key='team']")).to_contain_text(XSS)
    page.locator("#model-tags").get_by_role("button", name="Delete tag team").click()
    expect(page.locator("#model-tags tr[data-key='team']")).to_have_count(0)
    page.locator("#edit-model-description summary").click()
    page.locator("#edit-model-description textarea").fill("# Churn\nPredicts **churn**.")
    page.locator("#edit-model-description").get_by_role("button", name="Save").click()
    expect(page.locator("#model-description strong")).to_have_text("churn")

    # Version 1: tag, description, archive.
    goto(f"/models/{NAME}/versions/1")
    vtag = page.locator("#version-tag-form")
    vtag.get_by_label("Tag key").fill("validated")
    vtag.get_by_label("Tag value").fill("no")
    vtag.get_by_role("button", name="Set tag").click()
    expect(page.locator("#version-tags tr[data-key='validated']")).to_contain_text("no")
    page.locator("#edit-version-description summary").click()
    page.locator("#edit-version-description textarea").fill("Superseded by v2")
    page.locator("#edit-version-description").get_by_role("button", name="Save").click()
    expect(page.locator("#version-description")).to_contain_text("Superseded by v2")
    page.locator("#archive-form").get_by_role("button", name="Archive").click()
    expect(page.locator("#version-notice")).to_have_text("Stage changed.")
    expect(page.locator(".page-head .badge.stage-archived")).to_have_text("Archived")

    # Delete version 1, then the model.
    watch.expected_confirms.extend(["Delete this model version?", "Delete this registered model"])
    page.locator("#delete-version").get_by_role("button", name="Delete version").click()
    expect(page.locator("#model-notice")).to_have_text("Version deleted.")
    expect(page.locator("#versions-table tbody tr")).to_have_count(1)
    page.locator("#delete-model").get_by_role("button", name="Delete model").click()
    expect(page.locator("#models-notice")).to_have_text("Registered model deleted.")
    expect(page.locator(f"#models-table a.model-link:text-is('{NAME}')")).to_have_count(0)


def test_an_invalid_change_is_explained(
    page: Page, ui: UI, trained: Trained, watch: PageWatch
) -> None:
    page.goto(f"{ui.url}/runs/{trained.run_id}")
    form = page.locator("#models form.register-form").first
    form.locator("input[name=name]").fill("bad/name")
    form.get_by_role("button", name="Register version").click()
    page.wait_for_load_state("networkidle")
    expect(page.locator("h1")).to_have_text("That request is not valid")
    watch.errors[:] = [e for e in watch.errors if "status of 400" not in e]
