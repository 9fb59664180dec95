"""A server that accepts connections and never answers does not hold a process at exit."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from mltrail.client.rest import RestBackend
from mltrail.client.sync import pending
from mltrail.config import Settings

from .conftest import clean_env, count_points, free_port, spawn_script, sync

FLUSH_TIMEOUT_S = 3.0
MARGIN_S = 3.0

SCRIPT = """
import sys, mltrail
mltrail.set_tracking_uri({url!r})
run = mltrail.start_run()
for i in range(500):
    mltrail.log_metric("loss", float(i), step=i)
mltrail.flush()
print(run.info.run_id, flush=True)
sys.stdin.readline()  # the server stops answering now
for i in range(500, 2000):
    mltrail.log_metric("loss", float(i), step=i)
print("logged", flush=True)
# No end_run: interpreter exit sends (or spools) what is queued and ends the run.
"""


class _FreezingProxy:
    """Forwards to the server until frozen; then it accepts connections and requests and
    never answers them."""

    def __init__(self, target: str) -> None:
        self.frozen = threading.Event()
        self.release = threading.Event()
        self.held = 0
        proxy = self
        self.client = httpx.Client(base_url=target, timeout=60)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if proxy.frozen.is_set():
                    proxy.held += 1
                    proxy.release.wait()
                    self.close_connection = True
                    return
                headers = {
                    k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")
                }
                answer = proxy.client.request(
                    self.command, self.path, content=body, headers=headers
                )
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
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.client.close()


def test_exit_is_bounded_when_the_server_never_answers(make_server: Any, tmp_path: Path) -> None:
    server = make_server().start()
    proxy = _FreezingProxy(server.url)
    spool_dir = tmp_path / "spool"
    env = clean_env(
        MLTRAIL_SPOOL_DIR=str(spool_dir),
        MLTRAIL_FLUSH_TIMEOUT=str(FLUSH_TIMEOUT_S),
        # Without a bound at exit, one request would wait 120 s, and retries much longer.
        MLTRAIL_HTTP_TIMEOUT="120",
        MLTRAIL_HTTP_MAX_RETRIES="10",
    )
    proc = spawn_script(SCRIPT.format(url=proxy.url), env=env)
    try:
        assert proc.stdin is not None and proc.stdout is not None
        run_id = proc.stdout.readline().strip()
        assert len(run_id) == 32, proc.stderr.read() if proc.stderr else ""
        proxy.frozen.set()
        proc.stdin.write("\n")
        proc.stdin.flush()
        assert proc.stdout.readline().strip() == "logged"
        started = time.monotonic()
        _, err = proc.communicate(timeout=60)
        elapsed = time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.kill()
        proxy.close()
    assert proc.returncode == 0, err
    assert proxy.held >= 1, "the client never met the frozen server"
    assert elapsed < FLUSH_TIMEOUT_S + MARGIN_S, (elapsed, err)
    # Everything logged after the freeze is in the spool, and the run's end with it.
    assert "1500 metric points" in err, err
    assert "the end of run" in err or "the end of 1 run" in err, err
    waiting = pending(spool_dir)
    files, points = waiting.files, waiting.points
    assert (files, points) == (1, 1500)

    synced = sync(
        "--tracking-uri", server.url, "sync", "--spool-dir", str(spool_dir), env=clean_env()
    )
    assert synced.returncode == 0, synced.stderr
    assert count_points(server.url, run_id, "loss") == 2000
    backend = RestBackend(server.url, settings=Settings())
    assert backend.get_run(run_id).info.status == "FINISHED"
    backend.close()
