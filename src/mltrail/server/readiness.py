"""``/ready``: whether this server process can serve requests now (for load balancers and
orchestrators), as opposed to ``/health``, which only says that the process answers.

Ready means: the database answers; its schema is the one this server was built for, or a
newer one (a rolling upgrade ran ``mltrail db upgrade`` while this replica keeps serving:
migrations are additive first, so the previous version keeps working until it is
replaced); and the artifact destination can be reached (a local folder that is writable or
can be created, or the bucket of an object store). Each check has a time limit, so an
unreachable database or bucket gives a prompt 503, not a hung probe.

The answer names what failed, never how (details such as host names go to the log).
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text

from mltrail.server.access import access
from mltrail.server.threads import run_blocking

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from mltrail.config import Settings

logger = logging.getLogger("mltrail.server")

CHECK_SECONDS = 5.0


@dataclass(frozen=True)
class Readiness:
    engine: Engine
    settings: Settings
    # The served-artifact destination's root URI; None in direct mode (--no-serve-artifacts).
    artifact_root: str | None

    def database(self) -> str:
        """``current``, ``older``, ``newer`` or ``empty`` (raises when unreachable)."""
        from mltrail.store.sql.migrate import VERSION_TABLE, schema_state

        with self.engine.connect() as conn:
            rows = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).all()
        return schema_state(str(rows[0][0]) if len(rows) == 1 else None)

    def artifacts(self) -> bool:
        root = self.artifact_root
        if root is None:
            return True
        scheme = urlparse(root).scheme.lower()
        if scheme in ("", "file") or len(scheme) == 1:
            return _writable_folder(root)
        from mltrail.artifacts import open_artifact_store

        # The bucket, not the root below it: a new root has no objects yet.
        bucket = urlparse(root).netloc
        return open_artifact_store(f"{scheme}://{bucket}", settings=self.settings).is_dir("")


def _writable_folder(root: str) -> bool:
    from mltrail.artifacts.local import local_path_from_uri

    path: Path = local_path_from_uri(root).expanduser().absolute()
    # A folder that does not exist yet is created by the first upload.
    while not path.exists() and path.parent != path:
        path = path.parent
    return path.is_dir() and os.access(path, os.W_OK | os.X_OK)


async def _timed(check: Any) -> tuple[Any, str | None]:
    """(result, None) or (None, why it failed)."""
    try:
        return await asyncio.wait_for(run_blocking(check), CHECK_SECONDS), None
    except TimeoutError:
        return None, f"no answer within {CHECK_SECONDS:g} s"
    except Exception as exc:
        return None, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


router = APIRouter(tags=["operations"])


@router.get(
    "/ready",
    summary="Readiness: database reachable, schema current, artifact destination reachable",
    openapi_extra=access("public"),
)
async def ready(request: Request) -> Response:
    probe: Readiness = request.app.state.readiness
    checks: dict[str, str] = {}
    schema, problem = await _timed(probe.database)
    if problem is not None:
        logger.warning("readiness: database unavailable: %s", problem)
        checks["database"] = "unavailable"
    else:
        checks["database"] = "ok"
        checks["schema"] = schema
    reachable, problem = await _timed(probe.artifacts)
    if problem is not None or not reachable:
        logger.warning("readiness: artifact destination unreachable: %s", problem or "not found")
        checks["artifacts"] = "unavailable"
    else:
        checks["artifacts"] = "ok"
    is_ready = (
        checks["database"] == "ok"
        and checks.get("schema") in ("current", "newer")
        and checks["artifacts"] == "ok"
    )
    return JSONResponse(
        {"ready": is_ready, **checks},
        status_code=200 if is_ready else 503,
        headers={"cache-control": "no-store"},
    )


def install_readiness(app: Any, readiness: Readiness) -> None:
    app.state.readiness = readiness
    app.include_router(router)
