"""Real faults: responses lost after commit, a server killed with SIGKILL mid-batch,
many processes logging at once. Each test knows the exact number of points to find."""

from __future__ import annotations

import random
import signal
import sqlite3
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from mltrail.client.rest import RestBackend
from mltrail.config import Settings

from .conftest import clean_env, count_points, free_port, run_script, spawn_script, sync

LOG_BATCHES = """
import mltrail
mltrail.set_tracking_uri({url!r})
for b in range({batches}):
    for i in range({per_batch}):
        step = b * {per_batch} + i
        mltrail.log_metric("loss", float(step), step=step, run_id={run_id!r})
    mltrail.flush()
    print("batch", b, flush=True)
"""


def _new_run(url: str, experiment: str = "0") -> str:
    backend = RestBackend(url, settings=Settings(http_max_retries=3))
    try:
        return backend.create_run(experiment).info.run_id
    finally:
        backend.close()


class _LosingProxy:
    """Forwards to the server; the first time it sees each batch (each request to a path
    ending in one of ``drop_suffixes``), it lets the server commit it and then drops the
    connection instead of answering."""

    def __init__(self, target: str, *, drop_suffixes: tuple[str, ...] = ("/batch",)) -> None:
        self.target = target
        self.drop_suffixes = drop_suffixes
        self.dropped = 0
        self.forwarded = 0
        self._seen: set[bytes] = set()
        self._lock = threading.Lock()
        proxy = self
        self.client = httpx.Client(base_url=target, timeout=60)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {
                    k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")
                }
                answer = proxy.client.request(
                    self.command, self.path, content=body, headers=headers
                )
                with proxy._lock:
                    proxy.forwarded += 1
                    drop = self.path.endswith(proxy.drop_suffixes) and body not in proxy._seen
                    if drop:
                        proxy._seen.add(body)
                        proxy.dropped += 1
                if drop:
                    # Committed on the server; the client never hears about it.
                    self.close_connection = True
                    return
                self.send_response(answer.status_code)
                for k, v in answer.headers.items():
                    if k.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.client.close()


def test_batches_whose_answer_is_lost_are_retried_and_applied_once(make_server: Any) -> None:
    server = make_server().start()
    run_id = _new_run(server.url)
    proxy = _LosingProxy(server.url)
    try:
        done = run_script(
            LOG_BATCHES.format(url=proxy.url, batches=10, per_batch=500, run_id=run_id),
            env=clean_env(MLTRAIL_HTTP_MAX_RETRIES="3"),
        )
        assert done.returncode == 0, done.stderr
        assert proxy.dropped >= 10  # every batch lost its first answer
    finally:
        proxy.close()
    assert count_points(server.url, run_id, "loss") == 5000


def _sigkill_rounds(make_server: Any, tmp_path: Path, *, rounds: int) -> None:
    server = make_server().start()
    run_id = _new_run(server.url)
    spool_dir = tmp_path / "spool"
    batches, per_batch = 4 * rounds, 1500
    env = clean_env(
        MLTRAIL_HTTP_MAX_RETRIES="40",
        MLTRAIL_BATCH_MAX_POINTS=str(per_batch),
        MLTRAIL_SPOOL_DIR=str(spool_dir),
        MLTRAIL_FLUSH_TIMEOUT="20",
    )
    client = spawn_script(
        LOG_BATCHES.format(url=server.url, batches=batches, per_batch=per_batch, run_id=run_id),
        env=env,
    )
    rng = random.Random(1234)
    try:
        for _ in range(rounds):
            time.sleep(rng.uniform(0.05, 0.8))
            server.stop(signal.SIGKILL)
            server.start()
        out, err = client.communicate(timeout=300)
    finally:
        if client.poll() is None:
            client.kill()
    assert client.returncode == 0, err
    assert out.count("batch") == batches
    # Whatever the client could not send before its exit deadline is in the spool.
    synced = sync("sync", "--spool-dir", str(spool_dir), env=clean_env())
    assert synced.returncode == 0, synced.stderr
    assert count_points(server.url, run_id, "loss") == batches * per_batch
    server.stop()
    [db] = list(Path(server.store).glob("*.db"))
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    conn.close()


@pytest.mark.slow
def test_server_killed_with_sigkill_during_batches_loses_and_duplicates_nothing(
    make_server: Any, tmp_path: Path
) -> None:
    _sigkill_rounds(make_server, tmp_path, rounds=5)


@pytest.mark.slow
def test_server_killed_with_sigkill_many_times(make_server: Any, tmp_path: Path) -> None:
    _sigkill_rounds(make_server, tmp_path, rounds=30)


def test_sixteen_processes_log_to_one_server(make_server: Any, tmp_path: Path) -> None:
    server = make_server().start()
    run_ids = [_new_run(server.url) for _ in range(16)]
    env = clean_env(MLTRAIL_BATCH_MAX_POINTS="250", MLTRAIL_HTTP_MAX_RETRIES="10")
    procs = [
        spawn_script(
            LOG_BATCHES.format(url=server.url, batches=8, per_batch=250, run_id=r), env=env
        )
        for r in run_ids
    ]
    results = [p.communicate(timeout=300) for p in procs]
    for proc, (_, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err
        assert "database is locked" not in err
    assert sum(count_points(server.url, r, "loss") for r in run_ids) == 16 * 2000
    assert "database is locked" not in server.log()


def test_eight_processes_write_one_sqlite_store_directly(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'shared.db'}"
    code = f"""
    import mltrail
    mltrail.set_tracking_uri({uri!r})
    mltrail.set_experiment("shared")
    with mltrail.start_run() as run:
        mltrail.log_params({{"worker": "x", "lr": 0.1}})
        for b in range(10):
            for i in range(300):
                mltrail.log_metric("loss", float(i), step=b * 300 + i)
            mltrail.flush()
    print(run.info.run_id)
    """
    env = clean_env(MLTRAIL_BATCH_MAX_POINTS="300")
    procs = [spawn_script(code, env=env) for _ in range(8)]
    results = [p.communicate(timeout=300) for p in procs]
    for proc, (_, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err
        assert "locked" not in err
    run_ids = [out.strip().splitlines()[-1] for out, _ in results]
    count = run_script(
        f"""
        from mltrail.client.tracking_client import TrackingClient
        c = TrackingClient({uri!r})
        print(sum(len(c.get_metric_history(r, "loss")) for r in {run_ids!r}))
        print(len(c.search_runs([c.get_experiment_by_name("shared").experiment_id])))
        """,
        env=clean_env(),
    )
    assert count.returncode == 0, count.stderr
    points, runs = count.stdout.split()
    assert int(points) == 8 * 3000
    assert int(runs) == 8
