#!/usr/bin/env python3
"""How fast the dashboard becomes usable: a 10,000-run experiment and a 1,000,000-point chart.

Seeds a SQLite store directly through the store's write functions (one transaction for all
runs, no HTTP), starts a real ``mltrail server --no-auth`` on it and drives Debian's Chromium
(``/usr/bin/chromium``) with Playwright:

    .venv/bin/python bench/ui_bench.py                  # 10,000 runs, 1,000,000 points, 5 reps
    .venv/bin/python bench/ui_bench.py --runs 1000 --points 100000 --reps 2   # quicker
    .venv/bin/python bench/ui_bench.py --smoke          # 100 runs, 20,000 points, 1 rep

Measured (times are from the browser's navigation start, ``performance.timeOrigin``):

* **runs page interactive**: the experiment page (its default page of 50 rows, newest first)
  has fired DOMContentLoaded, its table holds its rows, and a click on the first row's
  checkbox has run the page's handler (the **Compare selected** button is enabled and the
  selection count reads "1 selected"). The time is ``performance.now()`` read in the page
  right after that check, so it includes Playwright's round trips (an overestimate).
* **chart drawn**: the run page of a run whose metric has 1,000,000 points, until the
  chart element is marked rendered (``data-rendered="1"``: the downsampled series was
  fetched from ``/ui-api/metric-history?max_points=<chart width>`` and uPlot drew it on its
  canvas).
* **sampled read on the server**: ``GET /ui-api/metric-history?max_points=1000`` over HTTP
  (the whole request) and ``get_metric_history_sampled`` in-process on the store.

Results: median and best of ``--reps`` page loads, each in a new browser context (cold
cache), written as JSON to ``bench/results/ui-<UTC stamp>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import numpy as np

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
METRIC_KEY = "loss"


def log(msg: str) -> None:
    print(f"== {time.strftime('%H:%M:%S')} {msg}", flush=True)


def seed(db_uri: str, artifact_root: str, *, runs: int, points: int) -> dict[str, str]:
    """10,000 runs (2 params, 2 tags, 1 metric each) and one run with a long series."""
    from mltrail.store.sql import metrics as metrics_mod
    from mltrail.store.sql import open_store
    from mltrail.store.sql import runs as runs_mod
    from mltrail.store.sql.experiments import create_experiment

    store = open_store(db_uri, default_artifact_root=artifact_root)
    now = int(time.time() * 1000)
    started = time.perf_counter()
    with store.engine.begin() as conn:
        exp = create_experiment(
            conn, "ui-bench-10k", artifact_location=None, tags={}, creation_time=now,
            default_root=artifact_root,
        )  # fmt: skip
        for i in range(runs):
            run_id = uuid.uuid4().hex
            runs_mod.create_run(
                conn, exp, run_id=run_id, run_name=f"run-{i:05d}", user_id="bench",
                start_time=now - (runs - i) * 1000, tag_values={"team": f"t{i % 7}"},
            )  # fmt: skip
            runs_mod.insert_params(conn, run_id, {"lr": str(0.001 * (i % 50)), "depth": str(i % 9)})
            rmse = metrics_mod.sorted_series(
                np.array([0], dtype=np.int64),
                np.array([now], dtype=np.int64),
                np.array([1.0 / (1 + i)], dtype=np.float64),
            )
            metrics_mod.append_series(conn, run_id, {"rmse": rmse})
        big_exp = create_experiment(
            conn, "ui-bench-1m", artifact_location=None, tags={}, creation_time=now,
            default_root=artifact_root,
        )  # fmt: skip
        big_run = uuid.uuid4().hex
        runs_mod.create_run(
            conn, big_exp, run_id=big_run, run_name="one-million-points", user_id="bench",
            start_time=now, tag_values={},
        )  # fmt: skip
    seeded_runs = time.perf_counter() - started
    started = time.perf_counter()
    # A noisy loss curve with one spike: noise is what makes downsampling work hard.
    noise = np.random.default_rng(0).normal(0.0, 0.05, points)
    batch = 250_000
    for start in range(0, points, batch):
        steps = np.arange(start, min(points, start + batch), dtype=np.int64)
        values = 1.0 / (1 + steps * 1e-4) + noise[steps] + np.where(steps == points // 3, 5.0, 0.0)
        columns = {METRIC_KEY: (steps, now + steps, values.astype(np.float64))}
        store.write_batch(big_run, columns=columns, params=[], tags=[], idempotency_key=None)
    seeded_points = time.perf_counter() - started
    sampled = []
    for _ in range(5):
        t = time.perf_counter()
        got = store.get_metric_history_sampled(
            big_run, key=METRIC_KEY, max_points=1000, start_step=None, end_step=None
        )
        sampled.append(time.perf_counter() - t)
    assert len(got) <= 1000 and any(m.value > 5 for m in got), "the spike must survive"
    store.close()
    log(f"seeded {runs} runs in {seeded_runs:.1f} s, {points} points in {seeded_points:.1f} s")
    return {
        "experiment_id": exp,
        "big_run": big_run,
        "seed_runs_s": f"{seeded_runs:.2f}",
        "seed_points_s": f"{seeded_points:.2f}",
        "store_sampled_ms": json.dumps([round(s * 1000, 1) for s in sampled]),
    }


def start_server(
    db_uri: str, artifact_root: str, log_path: Path
) -> tuple[subprocess.Popen[bytes], str]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLTRAIL_")}
    command = [
        sys.executable, "-m", "mltrail.cli.main", "server", "--no-auth", "--port", str(port),
        "--backend-store-uri", db_uri, "--default-artifact-root", artifact_root,
    ]  # fmt: skip
    proc = subprocess.Popen(command, stdout=log_path.open("wb"), stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    proc.terminate()
    raise SystemExit(f"the server did not start; see {log_path}")


def runs_page(browser: Any, url: str) -> dict[str, float]:
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_selector("#runs-table tbody tr input[name=run]")
    page.locator("#runs-table tbody tr input[name=run]").first.click()
    page.wait_for_function(
        "() => !document.getElementById('compare-selected').disabled"
        " && document.getElementById('selection-count').textContent === '1 selected'"
    )
    interactive = float(page.evaluate("performance.now()"))
    nav = page.evaluate(
        "(() => { const n = performance.getEntriesByType('navigation')[0];"
        " return {ttfb: n.responseStart, response_end: n.responseEnd,"
        " dcl: n.domContentLoadedEventEnd, bytes: n.transferSize,"
        " rows: document.querySelectorAll('#runs-table tbody tr').length}; })()"
    )
    context.close()
    if errors:
        raise SystemExit(f"page errors: {errors}")
    return {"interactive_ms": interactive, **nav}


def chart_page(browser: Any, url: str) -> dict[str, float]:
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_selector(".chart[data-rendered='1'] canvas", timeout=60_000)
    drawn = float(page.evaluate("performance.now()"))
    info = page.evaluate(
        "(() => { const n = performance.getEntriesByType('navigation')[0];"
        " const r = performance.getEntriesByType('resource').filter("
        "   e => e.name.includes('/ui-api/metric-history'));"
        " return {dcl: n.domContentLoadedEventEnd,"
        "   history_fetch_ms: r.length ? r[0].responseEnd - r[0].startTime : -1,"
        "   history_bytes: r.length ? r[0].transferSize : -1}; })()"
    )
    context.close()
    if errors:
        raise SystemExit(f"page errors: {errors}")
    return {"drawn_ms": drawn, **info}


def summary(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 1), "best": round(min(values), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--out-dir", type=Path, default=REPO / "bench" / "results")
    parser.add_argument("--smoke", action="store_true", help="100 runs, 20,000 points, 1 rep")
    args = parser.parse_args()
    if args.smoke:
        args.runs, args.points, args.reps = 100, 20_000, 1
    from playwright.sync_api import sync_playwright

    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    with tempfile.TemporaryDirectory(prefix="mltrail-ui-bench-") as tmp:
        work = Path(tmp)
        db_uri = f"sqlite:///{work / 'mltrail.db'}"
        artifacts = str(work / "artifacts")
        ids = seed(db_uri, artifacts, runs=args.runs, points=args.points)
        proc, base = start_server(db_uri, artifacts, work / "server.log")
        try:
            history_url = (
                f"{base}/ui-api/metric-history?run_id={ids['big_run']}&key={METRIC_KEY}"
                "&max_points=1000"
            )
            with httpx.Client(timeout=60) as http:
                http.get(history_url).raise_for_status()  # warm the connection pool
                http_ms = []
                for _ in range(args.reps):
                    t = time.perf_counter()
                    body = http.get(history_url).json()
                    http_ms.append((time.perf_counter() - t) * 1000)
                assert len(body["values"]) <= 1000
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                # One warm-up load of each page (server caches, Chromium start-up) is discarded.
                runs_page(browser, f"{base}/experiments/{ids['experiment_id']}")
                chart_page(browser, f"{base}/runs/{ids['big_run']}")
                runs = [
                    runs_page(browser, f"{base}/experiments/{ids['experiment_id']}")
                    for _ in range(args.reps)
                ]
                charts = [
                    chart_page(browser, f"{base}/runs/{ids['big_run']}") for _ in range(args.reps)
                ]
                browser.close()
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    load = os.getloadavg()
    result = {
        "stamp": stamp,
        "runs": args.runs,
        "points": args.points,
        "reps": args.reps,
        "load_average": [round(x, 2) for x in load],
        "cpus": os.cpu_count(),
        "seed": ids,
        "runs_page": {k: summary([r[k] for r in runs]) for k in ("interactive_ms", "dcl", "ttfb")},
        "runs_page_rows": runs[0]["rows"],
        "runs_page_bytes": runs[0]["bytes"],
        "chart": {
            k: summary([c[k] for c in charts]) for k in ("drawn_ms", "dcl", "history_fetch_ms")
        },
        "history_http_ms": summary(http_ms),
        "history_store_ms": json.loads(ids["store_sampled_ms"]),
    }
    args.out_dir.mkdir(parents=True, exist_ok=True)
    out = args.out_dir / f"ui-{stamp}.json"
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
