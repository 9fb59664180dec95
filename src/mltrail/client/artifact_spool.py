"""Artifacts and models the tracking server cannot take now wait in the offline spool.

When an upload (``log_artifact``, ``log_artifacts``, ``log_text``/``dict``/``figure``/
``image``, a logged model's files) fails for a reason that says nothing about the upload
(the server cannot be reached, 5xx, 429, 507: what the metric queue spools on), the files
are copied into the run's spool (:meth:`mltrail.client.spool.Spool.add_files`), bounded by
``spool_max_artifact_bytes``, and the script goes on. In offline mode they go there at once.

They are sent after the run's batches and before its end, by the logging process once the
server is back or by ``mltrail sync``. A model keeps the id the client chose for it
(``models:/m-...`` works once it is synced); its registration, when one was asked for, is
made after its files are in.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mltrail.client.artifact_ops import Upload, open_run_artifacts
from mltrail.client.batch_requests import is_offline, is_transient, spool_uri
from mltrail.client.spool import Spool, SpooledFiles, folder_bytes, spool_directory, spool_path
from mltrail.config import Settings
from mltrail.errors import MltrailError, ResourceAlreadyExists, TrackingServerUnreachable
from mltrail.model_entities import LoggedModelStatus
from mltrail.tracking_api import TrackingAPI

if TYPE_CHECKING:
    from mltrail.artifacts.base import ArtifactStore
    from mltrail.models_api import ModelsAPI

logger = logging.getLogger(__name__)

# Gives the spool to keep files in: (backend, server URI, run id, the error).
Keeper = Callable[[TrackingAPI, str, str, BaseException], Spool]
# The logging queue installs one, so that the files land in the spool it replays when the
# server is back, in order with the run's batches and before the run's end.
_keeper: Keeper | None = None


def set_keeper(keeper: Keeper | None) -> None:
    global _keeper
    _keeper = keeper


def can_keep(backend: TrackingAPI, exc: BaseException) -> bool:
    """Whether a failed upload to ``backend`` waits in the spool instead of failing: always
    in offline mode (there is no server to take it); else not when nothing ever answered at
    its address (a set-up mistake, not an outage)."""
    if is_offline(backend):
        return True
    if isinstance(exc, TrackingServerUnreachable):
        return False
    return spool_uri(backend) is not None and is_transient(exc)


def upload_or_keep(
    backend: TrackingAPI,
    run_id: str,
    upload: Upload,
    *,
    open_store: Callable[[], ArtifactStore],
    settings: Settings,
) -> None:
    """Send ``upload`` to the run's artifact store, or keep it for later (see the module)."""
    if is_offline(backend):
        _keep_run_files(backend, run_id, upload, settings=settings, cause=None)
        return
    try:
        upload.send(open_store())
    except MltrailError as exc:
        if not can_keep(backend, exc):
            raise
        _keep_run_files(backend, run_id, upload, settings=settings, cause=exc)


def _keep_run_files(
    backend: TrackingAPI,
    run_id: str,
    upload: Upload,
    *,
    settings: Settings,
    cause: BaseException | None,
) -> None:
    _keep(
        backend,
        run_id,
        kind="run",
        manifest={"target": upload.target},
        size=upload.size(),
        stage=upload.stage,
        settings=settings,
        cause=cause,
        what=f"artifact {upload.target!r}" if upload.target else "the artifacts",
    )


def keep_model(
    backend: TrackingAPI,
    run_id: str,
    local_dir: Path,
    *,
    manifest: dict[str, Any],
    settings: Settings,
    cause: BaseException | None,
) -> None:
    """Keep a logged model's folder; ``manifest`` has ``model_id``, ``name``, ``params``,
    ``tags``, ``model_type`` and ``registered_model_name``."""
    _keep(
        backend,
        run_id,
        kind="model",
        manifest=manifest,
        size=folder_bytes(local_dir),
        stage=lambda folder: shutil.copytree(local_dir, folder, dirs_exist_ok=True),
        settings=settings,
        cause=cause,
        what=f"model {manifest['name']!r} ({manifest['model_id']})",
    )


def _keep(
    backend: TrackingAPI,
    run_id: str,
    *,
    kind: str,
    manifest: dict[str, Any],
    size: int,
    stage: Callable[[Path], object],
    settings: Settings,
    cause: BaseException | None,
    what: str,
) -> None:
    uri = spool_uri(backend)
    if uri is None:  # pragma: no cover - callers check can_keep / is_offline first
        raise ValueError("only uploads to a tracking server are kept in the spool")
    offline = is_offline(backend)
    # Offline runs are the offline spool's, not the outage spools the logging queue replays.
    if _keeper is not None and cause is not None and not offline:
        spool, own = _keeper(backend, uri, run_id, cause), False
    else:
        path = spool_path(spool_directory(settings), run_id=run_id, tracking_uri=uri)
        spool, own = Spool(path), True
        spool.set_meta("tracking_uri", uri)
        spool.set_meta("run_id", run_id)
    try:
        spool.add_files(
            kind=kind,
            manifest=manifest,
            size=size,
            limit=settings.spool_max_artifact_bytes,
            stage=stage,
        )
    finally:
        if own:
            spool.close()
    reason = "offline mode is on" if offline else f"it cannot take it now: {cause}"
    logger.warning(
        "mltrail: %s of run %s is kept in the offline spool in %s (%s); it is uploaded when "
        "the server is back, or by `mltrail sync`",
        what,
        run_id,
        spool.path.parent,
        reason,
    )


def send_kept_files(
    backend: TrackingAPI,
    run_id: str,
    spool: Spool,
    *,
    settings: Settings,
    refused: Callable[[SpooledFiles, MltrailError], None],
) -> list[SpooledFiles]:
    """Upload the files kept in ``spool`` in the order they were kept; returns the entries
    sent. An error that says the server cannot take them now is raised (the rest waits);
    one that refuses an entry for good goes to ``refused`` and the entry stays."""
    sent: list[SpooledFiles] = []
    for entry in spool.files():
        try:
            if entry.kind == "model":
                _send_model(backend, run_id, entry, settings=settings)
            else:
                run = backend.get_run(run_id)
                _store(backend, run.info.artifact_uri, settings).upload_dir(entry.folder, "")
        except MltrailError as exc:
            if is_transient(exc):
                raise
            refused(entry, exc)
            continue
        spool.remove_files(entry)
        sent.append(entry)
    return sent


def _store(backend: TrackingAPI, artifact_uri: str, settings: Settings) -> ArtifactStore:
    return open_run_artifacts(
        artifact_uri, tracking_uri=spool_uri(backend) or "", settings=settings
    )


def _models(backend: TrackingAPI) -> ModelsAPI:
    from mltrail.client.rest_models import RestModels

    return RestModels(getattr(backend, "http"))  # noqa: B009 - kept only for REST backends


def _send_model(
    backend: TrackingAPI, run_id: str, entry: SpooledFiles, *, settings: Settings
) -> None:
    manifest = entry.manifest
    model_id = str(manifest["model_id"])
    models = _models(backend)
    run = backend.get_run(run_id)
    try:
        logged = models.create_logged_model(
            run.info.experiment_id,
            name=manifest["name"],
            source_run_id=run_id,
            model_type=manifest.get("model_type"),
            params=manifest.get("params") or {},
            tags=manifest.get("tags") or {},
            model_id=model_id,
        )
    except ResourceAlreadyExists:  # created before the outage, or by an interrupted sync
        logged = models.get_logged_model(model_id)
    _set_model_location(entry.folder, logged.artifact_location)
    _store(backend, logged.artifact_location, settings).upload_dir(entry.folder, "")
    models.finalize_logged_model(model_id, status=LoggedModelStatus.READY)
    name = manifest.get("registered_model_name")
    if name:
        with suppress(ResourceAlreadyExists):
            models.create_registered_model(str(name))
        models.create_model_version(
            str(name), source=f"models:/{model_id}", run_id=run_id, model_id=model_id
        )


def _set_model_location(folder: Path, artifact_location: str) -> None:
    """The MLmodel file names where the model's files live, known only once it is created."""
    import yaml

    path = folder / "MLmodel"
    if not path.is_file():
        return
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if isinstance(data, dict):
        data["artifact_path"] = artifact_location
        path.write_text(
            yaml.safe_dump(data, default_flow_style=False, sort_keys=False), encoding="utf-8"
        )
