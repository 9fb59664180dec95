"""The dashboard under ``--static-prefix``: links, static files and scripts keep the prefix."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from mltrail.client.tracking_client import TrackingClient
from mltrail.entities import Metric
from server.conftest import LiveServer, _shutdown, start_server


@pytest.fixture
def prefixed(tmp_path: Path) -> Iterator[LiveServer]:
    server = start_server(tmp_path, args=["--no-auth"], prefix="/mlt")
    try:
        yield server
    finally:
        _shutdown(server)


def test_pages_work_under_a_prefix(page: Page, prefixed: LiveServer) -> None:
    client = TrackingClient(prefixed.url)
    exp = client.create_experiment("prefixed")
    run = client.create_run(exp, run_name="under-prefix")
    client.log_batch(
        run.info.run_id, metrics=[Metric("loss", 1.0 / (s + 1), s, s) for s in range(30)]
    )

    page.goto(prefixed.url + "/")
    page.click("a.exp-link:has-text('prefixed')")
    page.wait_for_load_state("networkidle")
    assert page.url.startswith(prefixed.url + "/experiments/")
    page.click("a.run-link:has-text('under-prefix')")
    page.wait_for_load_state("networkidle")
    expect(page.locator(".chart[data-key='loss'][data-rendered='1']")).to_have_count(1)
    # A form post keeps the prefix too (redirect after post).
    page.fill("#tag-form input[name=key]", "k")
    page.fill("#tag-form input[name=value]", "v")
    page.click("#tag-form button")
    page.wait_for_load_state("networkidle")
    assert page.url.startswith(prefixed.url + "/runs/")
    expect(page.locator("#tags-table")).to_contain_text("k")
