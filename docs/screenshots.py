"""Take the screenshots of the dashboard used in docs/ui.md.

Starts a real server over a fresh store, logs example runs with the mltrail client and drives
Debian's Chromium (``bash scripts/install-browser.sh``) with Playwright:

    .venv/bin/python docs/screenshots.py            # writes docs/images/ui-*.png
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from server.conftest import _shutdown, start_server  # noqa: E402
from ui.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from ui.seed import seed  # noqa: E402


def shoot(page: Page, url: str, out: Path, *, full: bool = False) -> None:
    page.goto(url)
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(300)
    page.screenshot(path=str(out), full_page=full)
    print("wrote", out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    parser.add_argument("--theme", choices=["light", "dark"], default="light")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(Path(tmp), args=["--no-auth"])
        try:
            data = seed(server.url)
            first = data.runs["run-0-lbfgs"]
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                context = browser.new_context(
                    viewport={"width": 1366, "height": 860},
                    color_scheme="dark" if args.theme == "dark" else "light",
                )
                page = context.new_page()
                base = server.url
                exp = data.main_experiment
                shoot(page, f"{base}/", args.out / "ui-experiments.png")
                shoot(page, f"{base}/experiments/{exp}", args.out / "ui-runs.png")
                shoot(
                    page,
                    f"{base}/runs/{first}?artifact=metrics.csv",
                    args.out / "ui-run.png",
                    full=True,
                )
                ids = ",".join(list(data.runs.values())[:4])
                shoot(page, f"{base}/compare?runs={ids}", args.out / "ui-compare.png", full=True)
                browser.close()
        finally:
            _shutdown(server)


if __name__ == "__main__":
    main()
