"""Moving an MLflow store: `mltrail import mlflow` against MLflow's own migration tool.

    make install install-mlflow install-bench                  # once
    .venv/bin/python bench/import_bench.py                     # the issue's sizes (see README)
    .venv/bin/python bench/import_bench.py --smoke             # tiny, for tests/bench (~1 min)

The data: an MLflow SQLite store with ``--runs`` runs (5 params, 5 metrics of ``--steps``
points each) and one run of ``--big-run-points`` points, made by bench/make_mlflow_db.py
(MLflow creates the schema; rows are inserted in bulk) and kept in the work folder for the
next invocation of the same sizes.

Timed, each as a fresh process, wall clock:

- mltrail: ``mltrail import mlflow sqlite:///...`` into a new folder store (including its
  final source/target comparison); ``mltrail export`` of the result to a snapshot;
  ``mltrail import mltrail`` of the snapshot into another new folder store.
- the anchor, ``databricks-mlflow-export-import`` (from its own virtualenv,
  ``.venv-export-import``): ``export-experiments --experiments all`` from the same SQLite
  store, then ``import-experiments`` into a new ``mlflow server`` (SQLite backend,
  ``--workers 1``, MLflow's faster setting here) - the "copy into an MLflow server" the
  tool exists for. ``--anchor-timeout`` bounds it; a timeout is reported as a lower bound.

Prints the figures and the ratios; writes them as JSON to bench/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
MLTRAIL = REPO / ".venv" / "bin" / "mltrail"
MLFLOW_PYTHON = REPO / ".venv-mlflow" / "bin" / "python"
ANCHOR_VENV = REPO / ".venv-export-import"


def _run(cmd: list[str], *, env: dict[str, str] | None = None, timeout: float, cwd: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        cmd, env=env, cwd=cwd, timeout=timeout, capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(
            f"{' '.join(cmd[:4])} ... failed ({done.returncode}):\n{done.stdout[-3000:]}\n"
            f"{done.stderr[-3000:]}"
        )
    return elapsed


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "MLTRAIL_"))}
    env.update(GIT_PYTHON_REFRESH="quiet", **extra)
    return env


def make_source(work: Path, args: argparse.Namespace) -> dict[str, Any]:
    sizes = {"runs": args.runs, "steps": args.steps, "big": args.big_run_points}
    summary_file = work / "source.json"
    if summary_file.exists():
        summary: dict[str, Any] = json.loads(summary_file.read_text())
        if summary.get("sizes") == sizes and (work / "mlflow.db").exists():
            return summary
    for stale in ("mlflow.db", "source.json"):
        (work / stale).unlink(missing_ok=True)
    done = subprocess.run(
        [
            str(args.mlflow_python),
            str(REPO / "bench" / "make_mlflow_db.py"),
            str(work / "mlflow.db"),
            "--runs",
            str(args.runs),
            "--steps",
            str(args.steps),
            "--big-run-points",
            str(args.big_run_points),
        ],
        env=_clean_env(),
        cwd=work,
        capture_output=True,
        text=True,
        timeout=7200,
        check=True,
    )
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    summary["sizes"] = sizes
    summary_file.write_text(json.dumps(summary))
    return summary


def time_mltrail(work: Path, source_uri: str) -> dict[str, float]:
    for name in ("mltrail-store", "snapshot", "restored"):
        shutil.rmtree(work / name, ignore_errors=True)
    env = _clean_env()
    out = {}
    out["import"] = _run(
        [str(MLTRAIL), "--tracking-uri", str(work / "mltrail-store"), "import", "mlflow", source_uri],
        env=env, timeout=3600, cwd=work,
    )  # fmt: skip
    out["export"] = _run(
        [str(MLTRAIL), "--tracking-uri", str(work / "mltrail-store"), "export", str(work / "snapshot")],
        env=env, timeout=3600, cwd=work,
    )  # fmt: skip
    out["restore"] = _run(
        [str(MLTRAIL), "--tracking-uri", str(work / "restored"), "import", "mltrail", str(work / "snapshot")],
        env=env, timeout=3600, cwd=work,
    )  # fmt: skip
    return out


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"mlflow server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise SystemExit("mlflow server did not start")


def ensure_anchor_venv() -> Path:
    python = ANCHOR_VENV / "bin" / "python"
    if not (ANCHOR_VENV / ".installed").exists():
        raise SystemExit(
            f"{ANCHOR_VENV} is missing: run `make install-bench` (it installs "
            "databricks-mlflow-export-import there, apart from .venv-mlflow)"
        )
    return python


def time_anchor(
    work: Path, source_uri: str, *, mlflow_python: Path, timeout: float
) -> dict[str, Any]:
    bin_dir = ensure_anchor_venv().parent
    export_dir = work / "anchor-export"
    target = work / "anchor-target"
    shutil.rmtree(export_dir, ignore_errors=True)
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir()
    out: dict[str, Any] = {"timed_out": False}
    started = time.perf_counter()
    try:
        out["export"] = _run(
            [str(bin_dir / "export-experiments"), "--experiments", "all", "--output-dir", str(export_dir)],
            env=_clean_env(MLFLOW_TRACKING_URI=source_uri), timeout=timeout, cwd=work,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        exported = sum(1 for _ in export_dir.glob("*/runs/*")) if export_dir.exists() else 0
        out.update(timed_out=True, export=time.perf_counter() - started, runs_exported=exported)
        return out
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = (work / "anchor-server.log").open("wb")
    server = subprocess.Popen(
        [
            str(mlflow_python.parent / "mlflow"),
            "server",
            "--backend-store-uri",
            f"sqlite:///{target / 'mlflow.db'}",
            "--artifacts-destination",
            str(target / "artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        cwd=target,
        env=_clean_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait(url, server)
        left = max(1.0, timeout - out["export"])
        try:
            out["import"] = _run(
                [str(bin_dir / "import-experiments"), "--input-dir", str(export_dir)],
                env=_clean_env(MLFLOW_TRACKING_URI=url), timeout=left, cwd=work,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            out.update(timed_out=True, import_=left)
            out["import"] = left
        out["runs_in_target"] = _count_runs(target / "mlflow.db")
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
    return out


def _count_runs(db: Path) -> int | None:
    import sqlite3

    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            return int(conn.execute("SELECT count(*) FROM runs").fetchone()[0])
    except sqlite3.Error:
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--big-run-points", type=int, default=1_000_000)
    parser.add_argument("--smoke", action="store_true", help="5 runs of 10 steps, 500 points")
    parser.add_argument("--skip-anchor", action="store_true")
    parser.add_argument(
        "--anchor-timeout",
        type=float,
        default=1800,
        help="Stop the anchor after this many seconds and report a lower bound (it needs "
        "hours for the full sizes).",
    )
    parser.add_argument("--mlflow-python", type=Path, default=MLFLOW_PYTHON)
    parser.add_argument("--work-dir", type=Path, default=REPO / "bench" / "results" / "import-work")
    parser.add_argument("--out-dir", type=Path, default=REPO / "bench" / "results")
    args = parser.parse_args()
    if args.smoke:
        args.runs, args.steps, args.big_run_points = 5, 10, 500
        args.work_dir = args.work_dir.with_name(args.work_dir.name + "-smoke")
    args.work_dir.mkdir(parents=True, exist_ok=True)
    source = make_source(args.work_dir, args)
    uri = source["uri"]
    ours = time_mltrail(args.work_dir, uri)
    anchor = None
    if not args.skip_anchor:
        anchor = time_anchor(
            args.work_dir, uri, mlflow_python=args.mlflow_python, timeout=args.anchor_timeout
        )
    report(args, source, ours, anchor)


def report(
    args: argparse.Namespace,
    source: dict[str, Any],
    ours: dict[str, float],
    anchor: dict[str, Any] | None,
) -> None:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    load = os.getloadavg()[0]
    print(f"source: {source['runs']:,} runs, {source['points']:,} points (load avg {load:.1f})")
    print(f"mltrail import mlflow   {ours['import']:8.1f} s   (target < 60 s)")
    print(f"mltrail export          {ours['export']:8.1f} s   (target < 30 s)")
    print(f"mltrail import mltrail  {ours['restore']:8.1f} s   (target < 30 s)")
    result: dict[str, Any] = {
        "name": f"import-{stamp}",
        "load_average_1min": load,
        "source": source,
        "mltrail": ours,
    }
    if anchor is not None:
        total = anchor["export"] + (anchor.get("import") or 0.0)
        bound = ">=" if anchor["timed_out"] else ""
        ratio = total / ours["import"]
        print(
            f"databricks-mlflow-export-import: export {anchor['export']:.1f} s + import into "
            f"an MLflow server {anchor.get('import') or 0:.1f} s = {bound}{total:.1f} s"
        )
        if anchor["timed_out"] and "runs_exported" in anchor:
            print(
                f"  (stopped after {args.anchor_timeout:.0f} s, still exporting: "
                f"{anchor['runs_exported']:,} of {source['runs']:,} runs exported; a lower bound)"
            )
        elif anchor["timed_out"]:
            print(
                f"  (stopped after {args.anchor_timeout:.0f} s with {anchor.get('runs_in_target')} "
                f"of {source['runs']:,} runs in the MLflow server: a lower bound)"
            )
        print(f"ratio (anchor / mltrail import): {bound}{ratio:.1f}x   (target >= 20x)")
        result["anchor"] = {**anchor, "total": total, "ratio": ratio}
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / f"import-{stamp}.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    sys.exit(main())
