"""``/health`` says the process answers; ``/ready`` says it can serve: database, schema and
artifact destination. (A database that goes away: tests/server/test_errors_and_ops.py.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import create_engine, text

from cloud.conftest import S3Emulator, s3, s3_env  # noqa: F401  (the moto fixtures)
from harness.inprocess import app_client
from mltrail.config import Settings
from mltrail.server.app import create_app
from mltrail.store.sql.migrate import head_revision

ADMIN_PASSWORD = "readiness-admin-password"


def _app(tmp_path: Path, **settings: Any) -> FastAPI:
    values: dict[str, Any] = {
        "backend_store_uri": f"sqlite:///{tmp_path / 'm.db'}",
        "artifacts_destination": str(tmp_path / "artifacts"),
        "no_auth": True,
        **settings,
    }
    return create_app(Settings(**values))


def _ready(app: FastAPI) -> httpx.Response:
    with app_client(app) as http:
        assert http.get("/health").text == "OK"
        return http.get("/ready")


def _set_revision(tmp_path: Path, revision: str) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'm.db'}")
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
    engine.dispose()


def test_a_new_server_is_ready(tmp_path: Path) -> None:
    answer = _ready(_app(tmp_path))
    assert answer.status_code == 200
    assert answer.json() == {
        "ready": True,
        "database": "ok",
        "schema": "current",
        "artifacts": "ok",
    }
    assert answer.headers["cache-control"] == "no-store"


def test_ready_needs_no_credentials_when_auth_is_on(tmp_path: Path) -> None:
    app = _app(tmp_path, no_auth=False, admin_password=ADMIN_PASSWORD)
    with app_client(app) as http:
        assert http.get("/ready").status_code == 200
        assert http.get("/health").status_code == 200
        assert http.get("/api/v1/experiments/0").status_code == 401


def test_a_database_upgraded_under_a_running_server_keeps_it_ready(tmp_path: Path) -> None:
    # A rolling upgrade: `mltrail db upgrade` ran with a newer mltrail; this replica serves
    # on until it is replaced.
    app = _app(tmp_path)
    _set_revision(tmp_path, "9999_from_a_newer_mltrail")
    answer = _ready(app)
    assert answer.status_code == 200
    assert answer.json()["schema"] == "newer"


def test_a_database_at_an_older_schema_is_not_ready(tmp_path: Path) -> None:
    # Say, a backup from before the upgrade was restored under the running server.
    app = _app(tmp_path)
    _set_revision(tmp_path, "0001")
    assert head_revision() != "0001"
    answer = _ready(app)
    assert answer.status_code == 503
    assert answer.json()["ready"] is False and answer.json()["schema"] == "older"


def test_an_artifact_destination_that_cannot_be_written_is_not_ready(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the destination's parent should be")
    app = _app(tmp_path, artifacts_destination=str(blocker / "artifacts"))
    answer = _ready(app)
    assert answer.status_code == 503
    assert answer.json()["artifacts"] == "unavailable"
    assert answer.json()["database"] == "ok"


def test_a_destination_folder_that_does_not_exist_yet_is_ready(tmp_path: Path) -> None:
    app = _app(tmp_path, artifacts_destination=str(tmp_path / "later" / "artifacts"))
    assert _ready(app).status_code == 200


def test_direct_artifact_mode_has_no_destination_to_check(tmp_path: Path) -> None:
    app = _app(tmp_path, serve_artifacts=False, default_artifact_root=str(tmp_path / "direct"))
    assert _ready(app).json()["artifacts"] == "ok"


def test_a_bucket_that_exists_is_ready_and_a_missing_one_is_not(
    tmp_path: Path,
    s3_env: S3Emulator,  # noqa: F811  (the fixture imported above)
) -> None:
    bucket = s3_env.new_bucket()
    settings = {"s3_endpoint_url": s3_env.endpoint_url}
    ready = _ready(_app(tmp_path, artifacts_destination=f"s3://{bucket}/team/a", **settings))
    assert ready.status_code == 200, ready.text
    missing = _ready(
        _app(tmp_path, artifacts_destination=f"s3://no-such-{bucket}/team/a", **settings)
    )
    assert missing.status_code == 503
    assert missing.json()["artifacts"] == "unavailable"
