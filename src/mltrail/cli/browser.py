"""Opening the dashboard in the user's browser once the server answers (``mltrail ui``)."""

from __future__ import annotations

import logging
import os
import threading
import time
import webbrowser

logger = logging.getLogger("mltrail.server")

# Text browsers that webbrowser falls back to on a machine without a display: they would take
# over the terminal the server logs to.
_CONSOLE_BROWSERS = frozenset({"www-browser", "links", "elinks", "lynx", "w3m"})
_WAIT_SECONDS = 30.0


def browser_available() -> bool:
    """Whether a graphical browser (or the one ``$BROWSER`` names) can be started here."""
    try:
        browser = webbrowser.get()
    except webbrowser.Error:
        return False
    name = os.path.basename(getattr(browser, "name", "") or "")
    return name not in _CONSOLE_BROWSERS


def open_when_up(url: str) -> None:
    """Open ``url`` in the browser from a background thread, once ``/health`` answers."""

    def wait_then_open() -> None:
        import httpx

        deadline = time.monotonic() + _WAIT_SECONDS
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}health", timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        else:
            return
        if not webbrowser.open(url):
            logger.info("No browser could be opened: open %s yourself", url)

    threading.Thread(target=wait_then_open, name="mltrail-open-browser", daemon=True).start()


def announce(url: str, *, wanted: bool) -> None:
    """Say where the dashboard is, and open it when asked and possible."""
    if not wanted:
        logger.info("Dashboard: %s", url)
    elif browser_available():
        logger.info("Dashboard: %s (opening it in your browser)", url)
        open_when_up(url)
    else:
        logger.info("Dashboard: %s (no browser here: open it yourself)", url)
