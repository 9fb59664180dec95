"""A real server over a seeded store, and Debian's Chromium driven by Playwright.

Chromium comes from ``scripts/install-browser.sh`` (``apt-get install chromium``); Playwright
only drives it. Every page fixture fails its test on a console error, an uncaught page error or
a dialog the test did not expect (an XSS payload that ran would open one).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Dialog, Page, sync_playwright

from server.conftest import LiveServer, _shutdown, start_server

from .seed import Seeded, seed

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

if not os.path.exists(CHROMIUM):
    pytest.fail(
        f"{CHROMIUM} is missing: run `bash scripts/install-browser.sh` first", pytrace=False
    )


@dataclass
class UI:
    server: LiveServer
    data: Seeded

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture(scope="session")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UI]:
    tmp = tmp_path_factory.mktemp("ui-server")
    # Authentication and its login page are tested with the auth package; here the pages.
    server = start_server(tmp, args=["--no-auth"])
    try:
        yield UI(server=server, data=seed(server.url))
    finally:
        _shutdown(server)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass
class PageWatch:
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    # Confirm messages the test expects (delete confirmations); they are accepted.
    expected_confirms: list[str] = field(default_factory=list)


@pytest.fixture
def watch() -> PageWatch:
    return PageWatch()


@pytest.fixture
def page(browser: Browser, watch: PageWatch) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()

    def on_console(msg: ConsoleMessage) -> None:
        if msg.type == "error":
            watch.errors.append(f"console: {msg.text} at {msg.location}")

    def on_dialog(dialog: Dialog) -> None:
        message = dialog.message
        if dialog.type == "confirm" and any(message.startswith(p) for p in watch.expected_confirms):
            dialog.accept()
            return
        watch.dialogs.append(f"{dialog.type}: {message}")
        dialog.dismiss()

    page.on("console", on_console)
    page.on("pageerror", lambda exc: watch.errors.append(f"pageerror: {exc}"))
    page.on("dialog", on_dialog)
    yield page
    context.close()
    assert not watch.dialogs, f"dialogs opened: {watch.dialogs}"
    assert not watch.errors, f"errors on the page: {watch.errors}"


Goto = Callable[[str], None]


@pytest.fixture
def goto(page: Page, ui: UI) -> Goto:
    def go(path: str) -> None:
        response = page.goto(ui.url + path)
        assert response is not None, path
        assert response.status == 200, (path, response.status)
        page.wait_for_load_state("networkidle")

    return go


def repo_root() -> Path:
    return Path(__file__).resolve().parents[2]
