"""Take the screenshots of the dashboard used in docs/ui.md.

Starts a real server over a fresh store, logs example runs with the mltrail client and drives
Debian's Chromium (``bash scripts/install-browser.sh``) with Playwright; the models come from
the mltrail client and the mlflow client of ``.venv-mlflow`` (``tests/ui/seed_models.py``):

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
from ui.seed_models import seed_models  # noqa: E402


def shoot(page: Page, url: str, out: Path, *, scroll_to: str | None = None) -> None:
    """A viewport-sized PNG (1280x800 keeps the images small), optionally scrolled to a part."""
    page.goto(url)
    page.wait_for_load_state("networkidle")
    if scroll_to:
        page.evaluate(
            "sel => { const e = document.querySelector(sel);"
            " window.scrollTo(0, e.getBoundingClientRect().top + window.scrollY - 56); }",
            scroll_to,
        )
    page.wait_for_timeout(300)
    page.screenshot(path=str(out))
    print("wrote", out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    parser.add_argument(
        "--theme",
        choices=["light", "dark"],
        default="light",
        help="dark writes only ui-compare-dark.png",
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    dark = args.theme == "dark"
    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(Path(tmp), args=["--no-auth"])
        try:
            data = seed(server.url)
            models = seed_models(server.url)
            first = data.runs["run-0-lbfgs"]
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                context = browser.new_context(
                    viewport={"width": 1280, "height": 800},
                    color_scheme="dark" if dark else "light",
                )
                page = context.new_page()
                base = server.url
                ids = ",".join(list(data.runs.values())[:4])
                compare = f"{base}/compare?runs={ids}"
                if dark:
                    shoot(page, compare, args.out / "ui-compare-dark.png", scroll_to="#h-charts")
                else:
                    exp = data.main_experiment
                    shoot(page, f"{base}/", args.out / "ui-experiments.png")
                    shoot(page, f"{base}/experiments/{exp}", args.out / "ui-runs.png")
                    shoot(
                        page,
                        f"{base}/runs/{first}?artifact=metrics.csv",
                        args.out / "ui-run.png",
                        scroll_to="#h-charts",
                    )
                    shoot(page, compare, args.out / "ui-compare.png", scroll_to="#h-charts")
                    shoot(page, f"{base}/models", args.out / "ui-models.png")
                    shoot(
                        page,
                        f"{base}/models/{models.model_name}/versions/2",
                        args.out / "ui-model-version.png",
                    )
                    shoot(
                        page,
                        f"{base}/runs/{models.run_id}",
                        args.out / "ui-run-models.png",
                        scroll_to="#models",
                    )
                browser.close()
        finally:
            _shutdown(server)


if __name__ == "__main__":
    main()
