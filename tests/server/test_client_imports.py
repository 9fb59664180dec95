"""A client that talks to a server stays light: no SQLAlchemy, FastAPI or server code."""

from __future__ import annotations

import subprocess
import sys

from .conftest import LiveServer

_PROBE = """
import sys
import mltrail
from mltrail.client.rest import RestBackend
from mltrail.client.http_artifacts import HttpArtifactRepository
from mltrail.config import load_settings
backend = RestBackend(sys.argv[1], settings=load_settings())
exp_id = backend.create_experiment("light")
run = backend.create_run(exp_id)
repo = HttpArtifactRepository(run.info.artifact_uri, tracking_uri=sys.argv[1], settings=load_settings())
repo.write_stream("a.txt", [b"x"])
assert [f.path for f in repo.list("")] == ["a.txt"]
heavy = sorted(
    name for name in sys.modules
    if name.split(".")[0] in ("sqlalchemy", "fastapi", "starlette", "alembic", "uvicorn")
    or name.startswith(("mltrail.server", "mltrail.store", "mltrail.service"))
)
print(",".join(heavy))
"""


def test_rest_client_does_not_import_the_server_stack(live_server: LiveServer) -> None:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, live_server.url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
