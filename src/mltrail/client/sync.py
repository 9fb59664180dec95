"""Uploading spool files (``mltrail sync``): what an offline, crashed or cut-off process left.

Per spool file, in order: create the run when it was created offline (with its own id;
the experiment is found or created by name), send the batches in the order they were
spooled, each with its original idempotency key, upload the artifacts and models kept for
the run (:mod:`mltrail.client.artifact_spool`), then record the run's end when it was
recorded offline or could not be sent (the server was down when the run ended). Every step
is idempotent on the server, so a sync that is interrupted, or run twice, or run while the
logging process replays the same file, applies each batch once. A file is deleted when
everything in it went through; a batch or files the server refuses for good stay in the
file and are reported.

The same upload runs in the background of a client that starts logging to a server
(:func:`replay_leftovers`): files that earlier processes left for that server are sent
without waiting for someone to run ``mltrail sync``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from mltrail.client.artifact_spool import send_kept_files
from mltrail.client.batch_requests import is_transient
from mltrail.client.spool import Spool, SpooledBatch, spool_files
from mltrail.config import Settings
from mltrail.entities import RunStatus
from mltrail.errors import (
    MltrailError,
    ResourceAlreadyExists,
)
from mltrail.tracking_api import TrackingAPI

logger = logging.getLogger(__name__)

OFFLINE_PREFIX = "offline:"


@dataclass
class SyncReport:
    """What one sync did."""

    files: int = 0
    runs: list[str] = field(default_factory=list)
    batches: int = 0
    points: int = 0
    # Artifacts and models uploaded: kept entries and their bytes.
    uploads: int = 0
    upload_bytes: int = 0
    busy: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed


class Pending(NamedTuple):
    """What waits under a spool directory."""

    files: int
    batches: int
    points: int
    uploads: int  # artifacts and models
    upload_bytes: int


def pending(directory: Path) -> Pending:
    """What waits under ``directory``, counted in one pass over its spool files."""
    files = batches = points = uploads = size = 0
    for path in spool_files(directory):
        try:
            spool = Spool(path, lock="none")
        except Exception:  # an unreadable file is reported by sync itself
            continue
        try:
            b, p = spool.counts()
            u, n = spool.file_counts()
        finally:
            spool.close()
        files += 1
        batches += b
        points += p
        uploads += u
        size += n
    return Pending(files, batches, points, uploads, size)


def sync_directory(
    directory: Path,
    *,
    settings: Settings,
    tracking_uri: str | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> SyncReport:
    """Upload every spool file under ``directory``.

    ``tracking_uri`` overrides the server each file names (e.g. a server that moved).
    ``on_progress`` is called with the number of metric points of each batch sent.
    """
    report = SyncReport()
    backends: dict[str, TrackingAPI] = {}

    def backend_for(uri: str) -> TrackingAPI:
        backend = backends.get(uri)
        if backend is None:
            backend = backends[uri] = _backend(uri, settings=settings)
        return backend

    try:
        for path in spool_files(directory):
            _sync_path(
                path,
                report=report,
                backend_for=backend_for,
                tracking_uri=tracking_uri,
                on_progress=on_progress,
                settings=settings,
            )
    finally:
        for backend in backends.values():
            close = getattr(backend, "close", None)
            if callable(close):
                close()
    return report


def replay_leftovers(
    directory: Path,
    *,
    backend: TrackingAPI,
    tracking_uri: str,
    settings: Settings,
    stop: Callable[[], bool] = lambda: False,
) -> SyncReport:
    """Upload the spool files other processes left for the server at ``tracking_uri``
    (what a client does in the background when it starts logging to that server).

    Files of other servers, and files a live process still holds, are left alone. Stops at
    the first error that says the server cannot take the upload now (the rest waits for
    the next start or ``mltrail sync``), and between files once ``stop()`` is true.
    """
    report = SyncReport()
    for path in spool_files(directory):
        if stop():
            break
        done = _sync_path(
            path,
            report=report,
            backend_for=lambda uri: backend if uri == tracking_uri else None,
            tracking_uri=None,
            on_progress=None,
            settings=settings,
        )
        if not done:
            break
    return report


def _sync_path(
    path: Path,
    *,
    report: SyncReport,
    backend_for: Callable[[str], TrackingAPI | None],
    tracking_uri: str | None,
    on_progress: Callable[[int], None] | None,
    settings: Settings,
) -> bool:
    """Sync one file; False when the server could not be reached (or was unavailable)."""
    try:
        spool = Spool(path, lock="exclusive")
    except BlockingIOError:
        report.busy.append(path)
        return True
    except (OSError, MltrailError) as exc:
        report.failed.append((path, str(exc)))
        return True
    mine = True
    try:
        uri = tracking_uri or spool.get_meta("tracking_uri")
        run_id = spool.get_meta("run_id")
        if not uri or not run_id:
            report.failed.append((path, "not an mltrail spool file (no server or run id)"))
            return True
        backend = backend_for(str(uri))
        if backend is None:
            mine = False
            return True
        report.files += 1
        _sync_file(
            spool,
            backend,
            run_id=str(run_id),
            report=report,
            on_progress=on_progress,
            settings=settings,
        )
        return True
    except MltrailError as exc:
        report.failed.append((path, exc.message))
        return not is_transient(exc)
    finally:
        if mine:
            spool.close_and_remove_if_empty()
        else:
            spool.close()


def send_spooled_batch(backend: TrackingAPI, run_id: str, batch: SpooledBatch) -> None:
    """Send a spooled batch under the idempotency key it was first sent (or spooled) with."""
    backend.log_batch(
        run_id,
        metrics=batch.metrics,
        params=batch.params,
        tags=batch.tags,
        idempotency_key=batch.idempotency_key,
    )


def send_run_end(backend: TrackingAPI, run_id: str, update: dict[str, Any]) -> None:
    """Record a run's end (status, end time, name) that was kept in a spool file."""
    status = update.get("status")
    end_time = update.get("end_time")
    backend.update_run(
        run_id,
        status=RunStatus.parse(status) if status else None,
        end_time=int(end_time) if isinstance(end_time, int) else None,
        run_name=update.get("run_name") or None,
    )


def backend_settings(backend: TrackingAPI) -> Settings:
    """The settings a backend was built with (its credentials open the artifact proxy)."""
    settings = getattr(backend, "settings", None)
    if isinstance(settings, Settings):
        return settings
    from mltrail.config import load_settings

    return load_settings()


def _backend(uri: str, *, settings: Settings) -> TrackingAPI:
    from mltrail.client.backends import get_backend

    # Sync must reach the server even when this shell has MLTRAIL_OFFLINE=1 set.
    return get_backend(uri, settings=settings.with_overrides(offline=False))


def _sync_file(
    spool: Spool,
    backend: TrackingAPI,
    *,
    run_id: str,
    report: SyncReport,
    on_progress: Callable[[int], None] | None,
    settings: Settings,
) -> None:
    create = spool.get_meta("create")
    if create is not None:
        _create_run(backend, run_id=run_id, create=create)
        spool.delete_meta("create")
    if run_id not in report.runs:
        report.runs.append(run_id)
    refused: list[str] = []
    for batch in spool.batches():
        try:
            send_spooled_batch(backend, run_id, batch)
        except MltrailError as exc:
            if is_transient(exc):
                raise
            refused.append(exc.message)
            continue
        spool.remove(batch.idempotency_key)
        report.batches += 1
        report.points += batch.points
        if on_progress is not None:
            on_progress(batch.points)
    sent = send_kept_files(
        backend,
        run_id,
        spool,
        settings=settings,
        refused=lambda entry, exc: refused.append(f"{entry.kind} files: {exc.message}"),
    )
    report.uploads += len(sent)
    report.upload_bytes += sum(entry.bytes for entry in sent)
    update = spool.get_meta("update")
    if update is not None:
        # After the points: a run is not shown finished before its last values are in.
        send_run_end(backend, run_id, update)
        spool.delete_meta("update")
    if refused:
        more = f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""
        report.failed.append(
            (spool.path, f"the server refused part of run {run_id}: {refused[0]}{more}")
        )


def _create_run(backend: TrackingAPI, *, run_id: str, create: dict[str, object]) -> None:
    experiment_id = str(create.get("experiment_id") or "0")
    if experiment_id.startswith(OFFLINE_PREFIX):
        experiment_id = _experiment_by_name(backend, experiment_id[len(OFFLINE_PREFIX) :])
    tags = create.get("tags")
    start_time = create.get("start_time")
    backend.create_run(
        experiment_id,
        start_time=int(start_time) if isinstance(start_time, int) else None,
        tags={str(k): str(v) for k, v in tags.items()} if isinstance(tags, dict) else None,
        run_name=str(create.get("run_name") or "") or None,
        user_id=str(create.get("user_id") or "") or None,
        run_id=run_id,
    )


def _experiment_by_name(backend: TrackingAPI, name: str) -> str:
    found = backend.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    try:
        return backend.create_experiment(name)
    except ResourceAlreadyExists:
        # Another sync created it between our lookup and our create.
        again = backend.get_experiment_by_name(name)
        if again is None:
            raise
        return again.experiment_id
