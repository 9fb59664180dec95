"""The ``servers_factory`` fixture: ``mltrail server`` processes sharing one database."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from server.conftest import LiveServer, _shutdown, start_server


@pytest.fixture
def servers_factory(tmp_path: Path) -> Iterator[Any]:
    started: list[LiveServer] = []

    def start(*, store: str, args: Sequence[str] = ()) -> LiveServer:
        folder = tmp_path / f"server{len(started)}"
        folder.mkdir()
        server = start_server(folder, store=store, args=["--no-auth", *args])
        started.append(server)
        return server

    yield start
    for server in started:
        _shutdown(server)
