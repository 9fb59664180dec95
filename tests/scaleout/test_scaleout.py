"""Several workers on one SQLite file; two servers on one PostgreSQL database."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from .helpers import (
    answers,
    check_against_expected,
    log_through,
    worker_pids,
)


def test_three_workers_on_one_sqlite_file(servers_factory: Any, sqlite_uri: str) -> None:
    server = servers_factory(store=sqlite_uri, args=["--workers", "3"])
    assert len(worker_pids(server)) == 3
    # Fresh connections land on different workers; every one of them must see the writes.
    logged = log_through([server.url, server.url], writers=4)
    first = answers(server.url, logged)
    check_against_expected(first, logged)
    for _ in range(3):
        assert answers(server.url, logged) == first
    assert "database is locked" not in server.log()
    assert " 500 " not in server.log()
    # The supervisor preloads the app's modules and forks: the workers share those pages.
    # Proportional set sizes count a shared page once across the processes, resident sizes
    # once per process.
    pids = [server.process.pid, *worker_pids(server)]
    pss = sum(_memory_kib(pid, "Pss") for pid in pids)
    rss = sum(_memory_kib(pid, "Rss") for pid in pids)
    assert pss < 0.7 * rss, (pss, rss)


def _memory_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for {pid}")


def test_bad_settings_stop_a_multi_worker_server_before_it_listens(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mltrail", "server", "--workers", "2", "--port", "0",
         "--backend-store-uri", f"sqlite:///{tmp_path / 'm.db'}", "--no-serve-artifacts"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "--default-artifact-root is required" in result.stderr
    assert "Traceback" not in result.stderr and "listening" not in result.stderr


@pytest.mark.postgres
def test_two_servers_on_one_postgres_database(servers_factory: Any, postgres_uri: str) -> None:
    uri = postgres_uri
    a = servers_factory(store=uri)
    b = servers_factory(store=uri, args=["--workers", "2"])
    logged = log_through([a.url, b.url], writers=4)
    from_a = answers(a.url, logged)
    from_b = answers(b.url, logged)
    check_against_expected(from_a, logged)
    assert from_a == from_b


@pytest.mark.postgres
def test_page_tokens_work_across_servers(servers_factory: Any, postgres_uri: str) -> None:
    uri = postgres_uri
    a = servers_factory(store=uri)
    b = servers_factory(store=uri)
    logged = log_through([a.url, b.url], writers=2)
    seen: list[str] = []
    token = None
    turn = 0
    while True:
        url = (a.url, b.url)[turn % 2]
        body: dict[str, Any] = {"experiment_ids": [logged.experiment_id], "max_results": 3}
        if token:
            body["page_token"] = token
        answer = httpx.post(f"{url}/api/2.0/mlflow/runs/search", json=body, timeout=60)
        assert answer.status_code == 200, answer.text
        seen.extend(r["info"]["run_id"] for r in answer.json().get("runs", []))
        token = answer.json().get("next_page_token")
        turn += 1
        if not token:
            break
    assert sorted(seen) == sorted(logged.points)
    assert turn > 2
