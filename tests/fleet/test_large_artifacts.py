"""A 1 GiB artifact goes up and comes back down through nginx and a replica into moto's S3,
streamed: the memory of nginx and of the replica stays flat (bounded by their buffers, not
by the size of the file), and nginx writes nothing to its temporary folders."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator

import httpx

from fleet.cluster import rss_kib
from fleet.conftest import ADMIN, ADMIN_PASSWORD, Fleet, FleetFactory

MIB = 1024 * 1024
SIZE = 1024 * MIB
PATH = "/api/2.0/mlflow-artifacts/artifacts/0/big/artifacts/model.bin"
# Far below the file's size; above what s3fs's multipart buffers and nginx's need.
REPLICA_GROWTH_LIMIT_MIB = 256
NGINX_GROWTH_LIMIT_MIB = 32


def _block(index: int) -> bytes:
    return index.to_bytes(8, "little") * (MIB // 8)


def _body(digest: hashlib._Hash) -> Iterator[bytes]:
    for index in range(SIZE // MIB):
        block = _block(index)
        digest.update(block)
        yield block


class PeakMemory:
    """Samples the resident memory of process groups until stopped."""

    def __init__(self, groups: dict[str, list[int]]) -> None:
        self.groups = groups
        self.base = {name: rss_kib(pids) for name, pids in groups.items()}
        self.peak = dict(self.base)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            for name, pids in self.groups.items():
                self.peak[name] = max(self.peak[name], rss_kib(pids))

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def growth_mib(self, name: str) -> float:
        return (self.peak[name] - self.base[name]) / 1024


def _groups(fleet: Fleet) -> dict[str, list[int]]:
    assert fleet.nginx is not None
    return {"replica": fleet.replicas[0].pids(), "nginx": fleet.nginx.pids()}


def test_a_1gib_artifact_streams_through_nginx_and_a_replica(
    fleet_factory: FleetFactory,
) -> None:
    fleet = fleet_factory(workers=[1])
    auth = (ADMIN, ADMIN_PASSWORD)
    # Warm up: the replica's first artifact request loads the S3 client.
    with httpx.Client(base_url=fleet.url, auth=auth, timeout=300) as http:
        assert http.put(PATH.replace("model.bin", "warm.txt"), content=b"x").status_code == 200

    sent = hashlib.sha256()
    with PeakMemory(_groups(fleet)) as upload_memory:
        answer = httpx.put(
            f"{fleet.url}{PATH}",
            content=_body(sent),
            headers={"Content-Length": str(SIZE)},
            auth=auth,
            timeout=300,
        )
    assert answer.status_code == 200, answer.text

    received = hashlib.sha256()
    size = 0
    with (
        PeakMemory(_groups(fleet)) as download_memory,
        httpx.stream("GET", f"{fleet.url}{PATH}", auth=auth, timeout=300) as response,
    ):
        assert response.status_code == 200
        for chunk in response.iter_bytes(MIB):
            received.update(chunk)
            size += len(chunk)
    assert size == SIZE and received.hexdigest() == sent.hexdigest()

    for memory in (upload_memory, download_memory):
        assert memory.growth_mib("replica") < REPLICA_GROWTH_LIMIT_MIB, memory.peak
        assert memory.growth_mib("nginx") < NGINX_GROWTH_LIMIT_MIB, memory.peak
    assert fleet.nginx is not None
    for folder in ("client_body", "proxy"):
        assert list((fleet.nginx.workdir / folder).rglob("*")) == [], folder
    up, down = upload_memory, download_memory
    print(
        f"peak memory growth (MiB): upload replica {up.growth_mib('replica'):.0f} "
        f"nginx {up.growth_mib('nginx'):.0f}; download replica "
        f"{down.growth_mib('replica'):.0f} nginx {down.growth_mib('nginx'):.0f}"
    )
