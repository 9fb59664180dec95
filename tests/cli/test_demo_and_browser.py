"""`make demo` installs what the demo needs and nothing else; `mltrail ui` opens the
dashboard in a browser when there is one, and never with `--no-browser`."""

from __future__ import annotations

import subprocess
import sys
import time
import webbrowser
from pathlib import Path

import httpx
import pytest

from harness.servers import clean_env, free_port
from mltrail.cli import browser

REPO = Path(__file__).resolve().parents[2]


def test_make_demo_installs_only_the_demo_extra(tmp_path: Path) -> None:
    planned = subprocess.run(
        ["make", "-n", "demo", f"VENV={tmp_path / 'venv'}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    installs = [line for line in planned.splitlines() if "pip install" in line]
    assert any("-e '.[sklearn]'" in line for line in installs), planned
    for unwanted in ("dev", "torch", "lightning", "transformers", "mlflow", "playwright", "npm"):
        assert not any(unwanted in line for line in installs), (unwanted, planned)
    assert "install-browser" not in planned and "azurite" not in planned


def _ui(tmp_path: Path, *args: str) -> tuple[subprocess.Popen[str], str, Path]:
    opened = tmp_path / "opened.txt"
    recorder = tmp_path / "record-browser"
    recorder.write_text(f'#!/bin/sh\necho "$1" >> {opened}\n')
    recorder.chmod(0o755)
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mltrail.cli.main", "ui", "--port", str(port),
         "--backend-store-uri", str(tmp_path / "store"), *args],
        env=clean_env(BROWSER=str(recorder)),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}health", timeout=1).status_code == 200:
                return proc, url, opened
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError(proc.communicate()[0])


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.terminate()
    return proc.communicate(timeout=30)[0]


def test_ui_opens_the_dashboard_in_the_browser(tmp_path: Path) -> None:
    proc, url, opened = _ui(tmp_path)
    try:
        deadline = time.monotonic() + 20
        while not opened.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        log = _stop(proc)
    assert opened.read_text().split() == [url], log
    assert f"Dashboard: {url} (opening it in your browser)" in log


def test_no_browser_opens_nothing(tmp_path: Path) -> None:
    proc, url, opened = _ui(tmp_path, "--no-browser")
    time.sleep(1.5)
    log = _stop(proc)
    assert not opened.exists()
    assert f"Dashboard: {url}\n" in log


@pytest.mark.parametrize(
    ("found", "available"),
    [
        (webbrowser.GenericBrowser("/usr/bin/firefox"), True),
        (webbrowser.GenericBrowser("www-browser"), False),  # a text browser would take the terminal
        (webbrowser.Error("could not locate runnable browser"), False),
    ],
)
def test_only_a_graphical_browser_counts(
    monkeypatch: pytest.MonkeyPatch, found: object, available: bool
) -> None:
    def get(using: str | None = None) -> object:
        if isinstance(found, Exception):
            raise found
        return found

    monkeypatch.setattr(webbrowser, "get", get)
    assert browser.browser_available() is available
