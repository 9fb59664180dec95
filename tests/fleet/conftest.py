"""Fleet fixtures: `mltrail server` replicas on the machine's PostgreSQL, artifacts in moto's
S3 server, behind Debian's nginx configured with deploy/nginx/mltrail.conf.

Every test here is marked ``fleet`` (run them alone with ``-m fleet``) and ``postgres``.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from cloud.conftest import S3Emulator, s3  # noqa: F401  (moto's S3 server, once per session)
from fleet.cluster import Nginx, Replica, clean_env, free_port, replica_args

ADMIN = "admin"
ADMIN_PASSWORD = "fleet-admin-password-1"
HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.fleet)
            item.add_marker(pytest.mark.postgres)


def mltrail_cli(
    *args: str, env: dict[str, str], stdin: str | None = None, source: Path | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = dict(env)
    if source is not None:
        full_env["PYTHONPATH"] = str(source)
    return subprocess.run(
        [sys.executable, "-m", "mltrail.cli.main", *args],
        input=stdin,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=180,
    )


@dataclass
class Fleet:
    db_uri: str
    bucket: str
    env: dict[str, str]
    workdir: Path
    replicas: list[Replica] = field(default_factory=list)
    nginx: Nginx | None = None

    @property
    def url(self) -> str:
        assert self.nginx is not None
        return self.nginx.url

    @property
    def destination(self) -> str:
        return f"s3://{self.bucket}/mltrail"

    def admin(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, auth=(ADMIN, ADMIN_PASSWORD), timeout=60)

    def add_replica(self, *, workers: int = 1, source: Path | None = None) -> Replica:
        port = free_port()
        args = replica_args(
            port=port,
            backend_store_uri=self.db_uri,
            artifacts_destination=self.destination,
            workers=workers,
        )
        if source is not None:
            # Earlier versions take it from MLTRAIL_FORWARDED_ALLOW_IPS only (set in env).
            at = args.index("--forwarded-allow-ips")
            del args[at : at + 2]
        replica = Replica(
            name=f"replica{len(self.replicas)}",
            port=port,
            args=args,
            workdir=self.workdir,
            env=self.env,
            source=source,
        )
        self.replicas.append(replica)
        return replica

    def start_nginx(self) -> Nginx:
        self.nginx = Nginx(
            self.workdir / "nginx", [f"127.0.0.1:{r.port}" for r in self.replicas]
        ).start()
        return self.nginx

    def wait_ready(self, replica: Replica, *, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{replica.url}/ready", timeout=10).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"{replica.name} not ready:\n{replica.log()[-3000:]}")

    def stop(self) -> None:
        if self.nginx is not None:
            self.nginx.stop()
        for replica in self.replicas:
            if replica.process is not None and replica.process.poll() is None:
                try:
                    replica.terminate(timeout=40)
                except subprocess.TimeoutExpired:
                    replica.kill()


FleetFactory = Callable[..., Fleet]


@pytest.fixture
def fleet_factory(
    postgres_uri: str,
    s3: S3Emulator,  # noqa: F811  (the fixture imported above)
    tmp_path: Path,
) -> Iterator[FleetFactory]:
    """``fleet_factory(workers=[1, 2, 1])``: a migrated database with an admin, one replica
    per entry of ``workers`` (started together), and nginx in front of them."""
    made: list[Fleet] = []

    def make(
        *,
        workers: Sequence[int] = (1, 1, 1),
        extra_env: dict[str, str] | None = None,
        source: Path | None = None,
        start: bool = True,
    ) -> Fleet:
        env = clean_env(
            {**s3.env(), "MLTRAIL_FORWARDED_ALLOW_IPS": "127.0.0.1", **(extra_env or {})}
        )
        fleet = Fleet(postgres_uri, s3.new_bucket(), env, tmp_path)
        made.append(fleet)
        for count in workers:
            fleet.add_replica(workers=count, source=source)
        if not start:
            return fleet
        prepare_database(fleet, source=source)
        for replica in fleet.replicas:
            replica.launch()
        for replica in fleet.replicas:
            replica.wait_up()
        fleet.start_nginx()
        return fleet

    yield make
    for fleet in made:
        fleet.stop()


def prepare_database(fleet: Fleet, *, source: Path | None = None) -> None:
    """What docs/deploy.md does before the first start: migrate, create the first admin."""
    upgraded = mltrail_cli("db", "upgrade", fleet.db_uri, env=fleet.env, source=source)
    assert upgraded.returncode == 0, upgraded.stderr
    created = mltrail_cli(
        "users",
        "create",
        ADMIN,
        "--admin",
        "--password-file",
        "-",
        "--backend-store-uri",
        fleet.db_uri,
        env=fleet.env,
        stdin=ADMIN_PASSWORD + "\n",
        source=source,
    )
    assert created.returncode == 0, created.stderr
