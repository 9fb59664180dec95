#!/usr/bin/env python3
"""`mltrail server` against `mlflow server`, measured in one run with the shared harness.

For every configuration it starts a server on a fresh SQLite file in a temporary folder,
waits for ``/health`` (start-up time), measures idle memory (W6-idle), runs trackbench
W0..W6 through the unmodified mlflow client, times W3's searches over raw HTTP
(``search_http.py``: the server's own time, W3-http), stops the server by PID. Then the
W3 searches again on a second server over a database holding ``--w3-large`` runs
(50,000 by default), written straight into the file by ``w3_data.py`` (W3-50k through the
client, W3-50k-http over raw HTTP). At the end it prints each workload's headline
numbers and the ratios over MLflow's default server and its ``--workers 1`` server, with
the targets they are checked against.

    .venv/bin/python bench/server_bench.py                       # full run, ~45 min on 2 cores
    .venv/bin/python bench/server_bench.py --smoke               # every step at tiny sizes
    .venv/bin/python bench/server_bench.py --configs mltrail-default \\
        --reuse bench/results/server-<stamp>      # re-measure mltrail, reuse that run's MLflow
    .venv/bin/python bench/server_bench.py --phases large \\
        --reuse bench/results/server-<stamp>      # only the larger W3, both tools, one table

The harness (trackbench.py, proctree.py) lives in the shared bench folder beside the
repository (``../shared/bench`` from the repository root); ``--shared-bench`` or
``$TRACKBENCH_DIR`` point elsewhere. Results: ``bench/results/server-<UTC stamp>/``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
# NAME@CLIENT: the client workloads through that client module instead of mlflow's.
DEFAULT_CONFIGS = (
    "mlflow-default mlflow-workers1 mltrail-default mltrail-workers4 mltrail-default@mltrail"
)
WORKLOADS = "W0,W1,W2,W3,W4,W5,W6"

SMOKE_CONFIGS = "mlflow-workers1 mltrail-default mltrail-default@mltrail"
SMOKE_EXTRA = "--w3-runs 40 --w3-threads 2 --w5-runs 2 --w5-points 5 --search-reps 1 "
SMOKE_EXTRA += "--w1-steps 4 --w2-points 2000 --w4-points 2000 --w0-n 5 --history-reps 1"
LARGE_NAME = "w3-large"

# (workload, metric, direction, target over mlflow-default, target over mlflow-workers1)
# direction "up": mltrail/mlflow (higher is better); "down": mlflow/mltrail (faster is better);
# "mem": mltrail/mlflow (at most the target).
TARGETS: list[tuple[str, str, str, float | None, float | None]] = [
    ("W1", "calls_per_s", "up", 20.0, 3.0),
    ("W2", "points_per_s", "up", 4.0, 4.0),
    ("W3", "b_filter_ms", "down", 5.0, 5.0),
    ("W3-http", "b_ms", "down", 5.0, 5.0),
    ("W3-50k", "b_filter_ms", "down", 5.0, 5.0),
    ("W3-50k-http", "b_ms", "down", 5.0, 5.0),
    ("W3", "c_paging_all_ms", "down", 5.0, 5.0),
    ("W4", "history_ms", "down", 10.0, 10.0),
    ("W5", "calls_per_s", "up", 5.0, 5.0),
    ("W6-idle", "rss_mib", "mem", 0.1, None),
]


def log(msg: str) -> None:
    print(f"== {time.strftime('%H:%M:%S')} {msg}", flush=True)


def server_command(cfg: str, args: argparse.Namespace, work: Path, port: int) -> list[str]:
    tool, _, variant = cfg.partition("@")[0].partition("-")
    workers = (
        ["--workers", variant.removeprefix("workers")] if variant.startswith("workers") else []
    )
    if tool == "mlflow":
        return [
            str(Path(args.mlflow_python).parent / "mlflow"), "server",
            "--backend-store-uri", f"sqlite:///{work}/mlflow.db",
            "--default-artifact-root", str(work / "mlart"),
            "--host", "127.0.0.1", "--port", str(port), *workers,
        ]  # fmt: skip
    if tool == "mltrail":
        cmd = [
            args.mltrail_python, "-m", "mltrail.cli.main", "server",
            "--backend-store-uri", f"sqlite:///{work}/mltrail.db",
            "--artifacts-destination", str(work / "artifacts"),
            "--host", "127.0.0.1", "--port", str(port), *workers,
        ]  # fmt: skip
        if "--no-auth" in _mltrail_server_help(args.mltrail_python):
            cmd.append("--no-auth")
        return cmd
    raise SystemExit(f"unknown configuration {cfg!r} (mlflow-default, mltrail-workers4, ...)")


_HELP: dict[str, str] = {}


def _mltrail_server_help(python: str) -> str:
    if python not in _HELP:
        _HELP[python] = subprocess.run(
            [python, "-m", "mltrail.cli.main", "server", "--help"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
    return _HELP[python]


@dataclass
class Server:
    cfg: str
    proc: subprocess.Popen[bytes]
    url: str
    work: Path
    log: Path
    cmd: list[str]
    startup_s: float


def _proctree(args: argparse.Namespace) -> list[str]:
    return [args.mlflow_python, str(args.shared_bench / "proctree.py")]


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("MLTRAIL_", "MLFLOW_"))}


def start_server(cfg: str, args: argparse.Namespace, work: Path) -> Server:
    """The configuration's server on the database in ``work`` (created when missing)."""
    proctree = _proctree(args)
    port = int(subprocess.check_output([*proctree, "free-port", "--preferred", str(args.port)]))
    slog = work / "server.log"
    cmd = server_command(cfg, args, work, port)
    log(f"[{cfg}] {shlex.join(cmd)}")
    t0 = time.time()
    with slog.open("wb") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=_env(), cwd=work)
    url = f"http://127.0.0.1:{port}"
    wait = subprocess.run(
        [*proctree, "wait-http", f"{url}/health", "--since", repr(t0), "--pid", str(proc.pid)],
        capture_output=True,
        text=True,
        check=False,
    )
    if wait.returncode != 0:
        _stop_tree(args, proc)
        raise SystemExit(f"[{cfg}] did not come up: {wait.stderr}\n{slog.read_text()[-3000:]}")
    startup_s = float(wait.stdout.strip())
    log(f"[{cfg}] healthy after {startup_s:.2f}s (pid {proc.pid})")
    return Server(cfg, proc, url, work, slog, cmd, startup_s)


def _stop_tree(args: argparse.Namespace, proc: subprocess.Popen[bytes]) -> None:
    """Stop ``proc`` and its descendants with the harness's ``proctree stop``, reaping
    ``proc`` here: the harness is not its parent, so until this process reaps it, an exited
    server stays a zombie that the harness waits 15 s for and then reports as killed."""
    stopper = subprocess.Popen([*_proctree(args), "stop", str(proc.pid)])
    # Past its own timeout the harness kills it; reaped below either way.
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=30)
    stopper.wait()
    proc.wait()


def stop_server(server: Server, args: argparse.Namespace, out: Path, *, tail: str) -> None:
    _stop_tree(args, server.proc)
    if args.keep_work:
        log(f"[{server.cfg}] work dir kept: {server.work}")
        return
    (out / server.cfg / tail).write_text(
        "\n".join(server.log.read_text(errors="replace").splitlines()[-40:])
    )
    shutil.rmtree(server.work, ignore_errors=True)


def trackbench(
    server: Server, args: argparse.Namespace, *, probe: bool, extra: list[str]
) -> list[str]:
    """A trackbench command against ``server`` with the configuration's client."""
    client = server.cfg.partition("@")[2] or "mlflow"
    python = args.mlflow_python if client == "mlflow" else args.mltrail_python
    cmd = [
        python, str(args.shared_bench / "trackbench.py"), "--client", client,
        "--uri", server.url, "--label", server.cfg, *shlex.split(args.extra), *extra,
    ]  # fmt: skip
    if probe and client == "mlflow":
        # The tool's own client's venv has no psutil: no server probe there.
        cmd += ["--server-pid", str(server.proc.pid), "--server-log", str(server.log)]
    return cmd


def search_http(
    server: Server, args: argparse.Namespace, out: Path, *, name: str, experiment: list[str]
) -> None:
    """W3's searches over raw HTTP (search_http.py), with the server tree's CPU."""
    cmd = [
        sys.executable, str(HERE / "search_http.py"), "--url", server.url, *experiment,
        "--reps", str(args.http_reps), "--server-pid", str(server.proc.pid),
        "--label", server.cfg, "--name", name, "--out", str(out / server.cfg / f"{name}.json"),
    ]  # fmt: skip
    subprocess.run(cmd, check=True)


def run_config(cfg: str, args: argparse.Namespace, out: Path) -> None:
    (out / cfg).mkdir(parents=True, exist_ok=True)
    server = start_server(cfg, args, Path(tempfile.mkdtemp(prefix=f"srvbench-{cfg}-")))
    try:
        _dump(
            out / cfg / "startup.json", cfg, "startup", {"startup_s": server.startup_s}, server.cmd
        )
        time.sleep(args.settle)  # background consumers settle before idle memory is read
        bench_env = {k: v for k, v in _env().items() if k != "PYTHONPATH"}
        if "@" in cfg:
            main = trackbench(server, args, probe=False, extra=[])
            main += ["--workload", args.client_workloads, "--out", str(out / cfg / "main.json")]
            subprocess.run(main, check=True, env=bench_env)
            return
        idle = trackbench(server, args, probe=True, extra=[])
        idle += ["--workload", "W6", "--name", "W6-idle", "--out", str(out / cfg / "W6-idle.json")]
        subprocess.run(idle, check=True, env=bench_env)
        main = trackbench(server, args, probe=True, extra=[])
        main += ["--workload", args.workloads, "--out", str(out / cfg / "main.json")]
        subprocess.run(main, check=True, env=bench_env)
        if "W3" in args.workloads.split(","):
            search_http(
                server, args, out, name="W3-http", experiment=["--experiment-prefix", "w3-"]
            )
    finally:
        stop_server(server, args, out, tail="server-log-tail.txt")


def large_name(args: argparse.Namespace) -> str:
    runs = args.w3_large
    return f"W3-{runs // 1000}k" if runs % 1000 == 0 else f"W3-{runs}"


def seeded_database(tool: str, args: argparse.Namespace, seeds: Path) -> Path:
    """A database file holding W3's runs at ``--w3-large`` (written once per tool)."""
    path = seeds / f"{tool}.db"
    if not path.exists():
        python = args.mlflow_python if tool == "mlflow" else args.mltrail_python
        log(f"[{tool}] writing {args.w3_large:,} W3 runs into {path}")
        cmd = [
            python, str(HERE / "w3_data.py"), tool, f"sqlite:///{path}",
            "--runs", str(args.w3_large), "--name", LARGE_NAME,
            "--artifact-root", str(seeds / f"{tool}-artifacts"),
        ]  # fmt: skip
        subprocess.run(cmd, check=True, env={k: v for k, v in _env().items() if k != "PYTHONPATH"})
    return path


def run_large(cfg: str, args: argparse.Namespace, out: Path, seeds: Path) -> None:
    """W3's searches on a server over ``--w3-large`` runs (no populating through HTTP)."""
    tool = cfg.partition("-")[0]
    work = Path(tempfile.mkdtemp(prefix=f"srvbench-large-{cfg}-"))
    shutil.copyfile(seeded_database(tool, args, seeds), work / f"{tool}.db")
    (out / cfg).mkdir(parents=True, exist_ok=True)
    server = start_server(cfg, args, work)
    name = large_name(args)
    try:
        searches = trackbench(
            server,
            args,
            probe=False,
            extra=[
                "--workload", "W3", "--name", name, "--w3-runs", str(args.w3_large),
                "--w3-experiment", LARGE_NAME, "--search-reps", str(args.large_search_reps),
                "--out", str(out / cfg / f"{name}.json"),
            ],
        )  # fmt: skip
        subprocess.run(
            searches, check=True, env={k: v for k, v in _env().items() if k != "PYTHONPATH"}
        )
        if "@" not in cfg:
            search_http(
                server, args, out, name=f"{name}-http", experiment=["--experiment", LARGE_NAME]
            )
    finally:
        stop_server(server, args, out, tail=f"server-log-tail-{name}.txt")


def _dump(path: Path, cfg: str, workload: str, headline: dict[str, float], cmd: list[str]) -> None:
    doc = {
        "workload": workload,
        "label": cfg,
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "result": {"command": [Path(c).name if "/" in c else c for c in cmd], "headline": headline},
    }
    path.write_text(json.dumps(doc, indent=1))


def load_headlines(dirs: list[Path]) -> tuple[dict[str, dict[str, dict[str, float]]], list[float]]:
    """{config: {workload: headline}} from result dirs; later dirs win. Also load averages."""
    table: dict[str, dict[str, dict[str, float]]] = {}
    loads: list[float] = []
    for d in dirs:
        for f in sorted(d.glob("*/*.json")):
            docs = json.loads(f.read_text())
            for doc in docs if isinstance(docs, list) else [docs]:
                head = doc.get("result", {}).get("headline")
                if head is None:
                    continue
                table.setdefault(f.parent.name, {})[doc["workload"]] = head
                for key in ("loadavg_before", "loadavg_after", "loadavg"):
                    if key in doc:
                        loads.append(doc[key][0])
    return table, loads


def fmt(v: float | None) -> str:
    if v is None:
        return ""
    if isinstance(v, bool) or (isinstance(v, int) and not isinstance(v, float)):
        return f"{v:,}"
    a = abs(v)
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    return f"{v:.3g}"


def ratio(direction: str, ours: float | None, theirs: float | None) -> float | None:
    if not ours or not theirs:
        return None
    return theirs / ours if direction == "down" else ours / theirs


def summary(table: dict[str, dict[str, dict[str, float]]]) -> str:
    mltrail = [c for c in table if c.startswith("mltrail")]
    mlflow = [c for c in ("mlflow-default", "mlflow-workers1") if c in table]
    cols = mlflow + mltrail
    rows = ["| workload | metric | " + " | ".join(cols) + " |", "|---|---|" + "---:|" * len(cols)]
    order = ["startup", "W6-idle", "W0", "W1", "W2", "W3", "W3-http"]
    larger = sorted({w for c in cols for w in table.get(c, {}) if w.startswith("W3-")} - set(order))
    order += [*larger, "W4", "W5", "W6"]
    keys: list[tuple[str, str]] = []
    for w in order:
        for c in cols:
            for k in table.get(c, {}).get(w, {}):
                if (w, k) not in keys:
                    keys.append((w, k))
    for w, k in keys:
        vals = [fmt(table.get(c, {}).get(w, {}).get(k)) for c in cols]
        rows.append(f"| {w} | {k} | " + " | ".join(vals) + " |")
    out = ["\n".join(rows), ""]
    trows = [
        "| target | config | mltrail | MLflow default | ratio | target | MLflow workers1 | ratio "
        "| target | met |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for w, k, direction, t_def, t_w1 in TARGETS:
        for c in mltrail:
            ours = table[c].get(w, {}).get(k)
            if ours is None:
                continue
            d = table.get("mlflow-default", {}).get(w, {}).get(k)
            w1 = table.get("mlflow-workers1", {}).get(w, {}).get(k)
            r_d, r_w1 = ratio(direction, ours, d), ratio(direction, ours, w1)
            ok = []
            if t_def is not None and r_d is not None:
                ok.append(r_d <= t_def if direction == "mem" else r_d >= t_def)
            if t_w1 is not None and r_w1 is not None:
                ok.append(r_w1 >= t_w1)
            sym = "<=" if direction == "mem" else ">="
            trows.append(
                f"| {w} {k} | {c} | {fmt(ours)} | {fmt(d)} | {fmt(r_d)}x | {sym}{fmt(t_def)} "
                f"| {fmt(w1)} | {fmt(r_w1)}x | {'>=' + fmt(t_w1) if t_w1 else ''} "
                f"| {'yes' if ok and all(ok) else 'NO' if ok else '?'} |"
            )
    for c in mltrail:
        head = table[c]
        small, large = (
            head.get("W3-http", {}),
            next((head[w] for w in larger if w.endswith("-http") and w in head), {}),
        )
        if small.get("b_ms") and large.get("b_ms"):
            # Linear or better: the larger size costs at most its multiple of runs.
            bigger = next(w for w in larger if w.endswith("-http") and w in head)
            trows.append(
                f"| W3 b raw HTTP, {bigger.removesuffix('-http')} / W3 | {c} | "
                f"{fmt(large['b_ms'] / small['b_ms'])}x | | | <= the runs' ratio | | | | |"
            )
        checks = [
            ("startup_s", head.get("startup", {}).get("startup_s"), "< 2 s"),
            ("W0 p50_ms", head.get("W0", {}).get("p50_ms"), "a few ms"),
            ("W5 errors", head.get("W5", {}).get("errors"), "0"),
            ("W5 lost_points", head.get("W5", {}).get("lost_points"), "0"),
        ]
        for name, v, target in checks:
            if v is None:
                continue
            trows.append(f"| {name} | {c} | {fmt(v)} | | | {target} | | | | |")
    out.append("\n".join(trows))
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    env = os.environ.get
    ap.add_argument("--configs", default=DEFAULT_CONFIGS, help=f"default: {DEFAULT_CONFIGS}")
    ap.add_argument("--workloads", default=WORKLOADS)
    ap.add_argument(
        "--client-workloads",
        default="W3,W4",
        help="workloads of the NAME@CLIENT configurations",
    )
    ap.add_argument("--extra", default=env("EXTRA", ""), help="extra trackbench arguments ($EXTRA)")
    ap.add_argument(
        "--shared-bench",
        type=Path,
        default=Path(env("TRACKBENCH_DIR", str(REPO.parent / "shared" / "bench"))),
    )
    ap.add_argument("--mlflow-python", default=str(REPO / ".venv-mlflow" / "bin" / "python"))
    ap.add_argument("--mltrail-python", default=sys.executable)
    ap.add_argument("--port", type=int, default=5077)
    ap.add_argument("--settle", type=float, default=5.0, help="seconds before idle memory")
    ap.add_argument("--out-dir", type=Path, default=REPO / "bench" / "results")
    ap.add_argument("--reuse", type=Path, action="append", default=[],
                    help="earlier result dirs whose configurations complete the table")  # fmt: skip
    ap.add_argument("--keep-work", action="store_true")
    ap.add_argument("--summarize-only", action="store_true")
    ap.add_argument("--w3-large", type=int, default=50_000,
                    help="runs of the second W3 database (0: skip that phase)")  # fmt: skip
    ap.add_argument("--large-search-reps", type=int, default=1,
                    help="trackbench --search-reps at the larger size (MLflow: minutes each)")  # fmt: skip
    ap.add_argument("--phases", default="main,large",
                    help="main (W0..W6 and W3-http on a new database), large (W3 at --w3-large)")  # fmt: skip
    ap.add_argument("--http-reps", type=int, default=30, help="raw HTTP searches per query")
    ap.add_argument("--smoke", action="store_true",
                    help=f"tiny sizes: {SMOKE_CONFIGS}, W3 at 40 and 60 runs, short workloads")  # fmt: skip
    args = ap.parse_args()
    if args.smoke:
        if args.configs == DEFAULT_CONFIGS:
            args.configs = SMOKE_CONFIGS
        args.extra = f"{SMOKE_EXTRA} {args.extra}"
        args.w3_large, args.large_search_reps, args.http_reps = 60, 1, 2
        args.settle = 0.5
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    out = args.out_dir / f"server-{stamp}"
    if not args.summarize_only:
        out.mkdir(parents=True, exist_ok=True)
        log(f"results -> {out}; load average {os.getloadavg()}")
        phases = args.phases.split(",")
        for cfg in args.configs.split() if "main" in phases else []:
            run_config(cfg, args, out)
        if args.w3_large and "large" in phases:
            seeds = Path(tempfile.mkdtemp(prefix="srvbench-seeds-"))
            try:
                for cfg in args.configs.split():
                    run_large(cfg, args, out, seeds)
            finally:
                shutil.rmtree(seeds, ignore_errors=True)
    table, loads = load_headlines([*args.reuse, *([] if args.summarize_only else [out])])
    text = summary(table)
    if loads:
        text += f"\n\nload average (1 min) during the run: {min(loads):.1f}-{max(loads):.1f}\n"
    print(text)
    if not args.summarize_only:
        (out / "summary.md").write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
