"""The run page groups system/ metrics in a section of their own, with their own charts."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Page, expect

from mltrail.client.tracking_client import TrackingClient
from mltrail.entities import Metric
from server.conftest import LiveServer, _shutdown, start_server

SYSTEM_KEYS = ["system/cpu_utilization_percentage", "system/gpu_0_utilization_percentage"]


@dataclass
class Logged:
    server: LiveServer
    run_id: str
    only_system: str


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Logged]:
    server = start_server(tmp_path_factory.mktemp("system-ui"), args=["--no-auth"])
    try:
        client = TrackingClient(server.url)
        now = int(time.time() * 1000)
        run_id = client.create_run("0", run_name="with-system").info.run_id
        points = [Metric("loss", 1.0 / (i + 1), now + i, i) for i in range(5)]
        points += [Metric(k, 10.0 + i, now + i, i) for k in SYSTEM_KEYS for i in range(5)]
        client.log_batch(run_id, metrics=points)
        only = client.create_run("0", run_name="only-system").info.run_id
        client.log_batch(only, metrics=[Metric(SYSTEM_KEYS[0], 5.0, now, 0)])
        yield Logged(server, run_id, only)
    finally:
        _shutdown(server)


def test_system_metrics_have_their_own_table_and_charts(page: Page, logged: Logged) -> None:
    page.goto(f"{logged.server.url}/runs/{logged.run_id}")
    page.wait_for_load_state("networkidle")
    metrics = page.locator("#metrics-table")
    expect(metrics).to_contain_text("loss")
    expect(metrics).not_to_contain_text("system/")
    system = page.locator("#system-metrics-table")
    expect(system).to_contain_text("cpu_utilization_percentage")
    expect(system).to_contain_text("gpu_0_utilization_percentage")
    assert page.locator("#charts .chart[data-key]").count() == 1
    expect(page.locator("#system-charts .chart[data-key]")).to_have_count(2)
    cpu = "#system-charts .chart[data-key='system/cpu_utilization_percentage']"
    expect(page.locator(f"{cpu}[data-rendered='1']")).to_have_count(1)


def test_a_run_with_only_system_metrics(page: Page, logged: Logged) -> None:
    page.goto(f"{logged.server.url}/runs/{logged.only_system}")
    page.wait_for_load_state("networkidle")
    expect(page.locator("#charts")).to_have_count(0)
    expect(page.locator("#chart-controls")).to_have_count(1)
    expect(page.locator("#system-charts .chart[data-rendered='1']")).to_have_count(1)


def test_a_run_without_system_metrics_has_no_section(page: Page, logged: Logged) -> None:
    client = TrackingClient(logged.server.url)
    plain = client.create_run("0").info.run_id
    page.goto(f"{logged.server.url}/runs/{plain}")
    page.wait_for_load_state("networkidle")
    expect(page.locator("#system-metrics")).to_have_count(0)


def test_every_system_chart_draws(page: Page, logged: Logged) -> None:
    page.goto(f"{logged.server.url}/runs/{logged.run_id}#system-metrics")
    page.wait_for_load_state("networkidle")
    expect(page.locator("#system-charts .chart[data-rendered='1']")).to_have_count(2)
    expect(page.locator("#system-charts .chart h3").first).to_have_text(
        "cpu_utilization_percentage"
    )
