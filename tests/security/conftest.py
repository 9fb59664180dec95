"""A real server with authentication on, an admin and two ordinary users (A and B)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from harness.servers import free_port as _free_port
from mltrail.service.auth import AuthService
from mltrail.store.sql import open_store
from mltrail.store.sql.auth import SqlAuthStore

PASSWORDS = {
    "admin": "admin-password-123",
    "alice": "alice-password-123",
    "bob": "bob-password-1234",
}


@dataclass
class AuthServer:
    url: str
    db_uri: str
    tmp_path: Path
    log_path: Path
    clients: list[httpx.Client] = field(default_factory=list)

    def client(self, user: str | None = None, **kwargs: object) -> httpx.Client:
        """A client closed with the server (module-scoped fixtures make them too)."""
        auth = (user, PASSWORDS[user]) if user else None
        client = httpx.Client(base_url=self.url, auth=auth, timeout=30.0, **kwargs)  # type: ignore[arg-type]
        self.clients.append(client)
        return client

    def close_clients(self) -> None:
        for client in self.clients:
            client.close()
        self.clients.clear()


def start_auth_server(
    tmp_path: Path, *, extra_env: dict[str, str] | None = None
) -> tuple[AuthServer, subprocess.Popen[bytes]]:
    db_uri = f"sqlite:///{tmp_path / 'mltrail.db'}"
    store = open_store(db_uri, default_artifact_root="mlflow-artifacts:/")
    auth = AuthService(store=SqlAuthStore(store.engine))
    auth.create_user("admin", PASSWORDS["admin"], is_admin=True)
    auth.create_user("alice", PASSWORDS["alice"])
    auth.create_user("bob", PASSWORDS["bob"])
    store.close()
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLTRAIL_")}
    env.update(extra_env or {})
    log_path = tmp_path / "server.log"
    command = [
        sys.executable, "-m", "mltrail", "server", "--port", str(port),
        "--backend-store-uri", db_uri, "--artifacts-destination", str(tmp_path / "artifacts"),
    ]  # fmt: skip
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            command, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    server = AuthServer(url=url, db_uri=db_uri, tmp_path=tmp_path, log_path=log_path)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(log_path.read_text())
        try:
            if httpx.get(f"{url}/health", timeout=1).text == "OK":
                return server, proc
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not start:\n" + log_path.read_text())


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthServer]:
    server, proc = start_auth_server(tmp_path_factory.mktemp("auth-server"))
    try:
        yield server
    finally:
        server.close_clients()
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
