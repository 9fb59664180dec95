"""The offline spool: batches the tracking server did not take, kept on local disk.

One SQLite database per (run, tracking server) under the spool directory
(``MLTRAIL_SPOOL_DIR``, default ``~/.mltrail/spool``). SQLite gives what a spool needs
without a format of our own: a batch is one transaction, so it is stored whole or not at
all, also when the process is killed in the middle (WAL, ``synchronous=FULL``), and
several processes logging to the same run can share a file.

Each batch keeps the idempotency key it was first sent with. A batch whose answer was
lost is therefore harmless to replay: the server applies a key once, so replaying the
spool (by the process itself when the server comes back, or by ``mltrail sync`` later,
or both, or twice) never duplicates a point.

Besides batches a spool file may hold the run's creation (runs created offline, see
:mod:`mltrail.client.offline`), artifacts and models the server could not take (their
files in the ``<file>.files`` folder next to it, see :mod:`mltrail.client.artifact_spool`)
and the run's final status: replayed as creation, batches, files, status.

A process that writes a spool holds a shared ``flock`` on ``<file>.lock``; ``mltrail
sync`` takes it exclusively and skips files that a live process still holds.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from mltrail.client import rest_codec as codec
from mltrail.config import Settings
from mltrail.entities import Param, RunTag
from mltrail.errors import ArtifactSpoolFull, ConfigurationError
from mltrail.wire import ColumnLists, MetricColumns, columns_out, floats_in, point_count

try:  # POSIX only; on other systems files are not locked (sync may race a live process)
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

SUFFIX = ".spool.db"
_BUSY_TIMEOUT_MS = 30_000
_SAFE = re.compile(r"[^A-Za-z0-9_.-]")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS batches (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    idempotency_key TEXT NOT NULL UNIQUE,
    points INTEGER NOT NULL,
    payload TEXT NOT NULL,
    created_time INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS files (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    folder TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    manifest TEXT NOT NULL,
    created_time INTEGER NOT NULL
);
"""
FILES_SUFFIX = ".files"
# The name every kept folder gets; anything else in a spool file (one copied from another
# machine) is refused, so sync never reads or deletes outside the spool's own folders.
_FOLDER = re.compile(r"[0-9a-f]{32}")


def spool_directory(settings: Settings) -> Path:
    """Where spool files live: ``settings.spool_dir`` or ``~/.mltrail/spool``."""
    if settings.spool_dir:
        return Path(settings.spool_dir).expanduser()
    return Path.home() / ".mltrail" / "spool"


def spool_path(directory: Path, *, run_id: str, tracking_uri: str) -> Path:
    """The file of one run on one server (the server is part of the name: run ids are only
    unique per server)."""
    digest = hashlib.sha1(tracking_uri.encode()).hexdigest()[:10]
    return directory / f"{_SAFE.sub('_', run_id)[:80]}-{digest}{SUFFIX}"


@dataclass(frozen=True)
class SpooledBatch:
    seq: int
    idempotency_key: str
    metrics: ColumnLists
    params: list[Param]
    tags: list[RunTag]

    @property
    def points(self) -> int:
        return point_count(self.metrics)


def encode_batch(metrics: MetricColumns, params: Sequence[Param], tags: Sequence[RunTag]) -> str:
    return json.dumps(
        {
            "metrics": columns_out(metrics),
            "params": codec.pairs_out(params),
            "tags": codec.pairs_out(tags),
        },
        separators=(",", ":"),
        allow_nan=False,
    )


def decode_batch(payload: str) -> tuple[ColumnLists, list[Param], list[RunTag]]:
    body = json.loads(payload)
    metrics: ColumnLists = {
        key: (list(col["steps"]), list(col["timestamps"]), floats_in(col["values"]))
        for key, col in body.get("metrics", {}).items()
    }
    params = [Param(p["key"], p["value"]) for p in body.get("params", [])]
    tags = [RunTag(t["key"], t["value"]) for t in body.get("tags", [])]
    return metrics, params, tags


@dataclass(frozen=True)
class SpooledFiles:
    """Files kept for the server: ``kind`` "run" (artifacts under the run's root, ``folder``
    mirrors their paths) or "model" (a logged model's folder); ``manifest`` says the rest."""

    seq: int
    kind: str
    folder: Path
    bytes: int
    manifest: dict[str, Any]


def folder_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def spooled_file_bytes(directory: Path) -> int:
    """Bytes of artifacts and models kept under ``directory``, all spool files together."""
    if not directory.is_dir():
        return 0
    return sum(
        folder_bytes(p)
        for p in directory.iterdir()
        if p.name.endswith(SUFFIX + FILES_SUFFIX) and p.is_dir()
    )


class Spool:
    """One run's spool file. Thread-safe (the sender thread and interpreter exit share it)."""

    def __init__(self, path: Path, *, lock: str = "shared") -> None:
        """Open (creating) ``path``. ``lock`` is ``"shared"`` (a logging process),
        ``"exclusive"`` (sync; raises :class:`BlockingIOError` when a live process holds
        the file) or ``"none"``."""
        self.path = path
        self._lock = threading.Lock()
        self._lock_file: IO[bytes] | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigurationError(
                f"Cannot create the spool directory {path.parent}: {exc}"
            ) from exc
        if lock != "none" and fcntl is not None:
            self._lock_file = open(f"{path}.lock", "ab")  # noqa: SIM115 - held until close()
            flags = fcntl.LOCK_SH if lock == "shared" else fcntl.LOCK_EX | fcntl.LOCK_NB
            try:
                fcntl.flock(self._lock_file.fileno(), flags)
            except BlockingIOError:
                self._lock_file.close()
                raise
        self._conn = sqlite3.connect(
            str(path),
            timeout=_BUSY_TIMEOUT_MS / 1000,
            isolation_level=None,
            check_same_thread=False,
        )
        self._conn.execute("PRAGMA journal_mode=WAL")
        # FULL: a batch the spool accepted survives a power cut, not only a process crash.
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.executescript(_SCHEMA)

    # -- meta ----------------------------------------------------------------------
    def get_meta(self, name: str) -> Any:
        with self._lock:
            row = self._conn.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return None if row is None else json.loads(row[0])

    def set_meta(self, name: str, value: Any) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT INTO meta (name, value) VALUES (?, ?) "
                "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                (name, json.dumps(value)),
            )

    def delete_meta(self, name: str) -> None:
        with self._lock:
            self._conn.execute("DELETE FROM meta WHERE name = ?", (name,))

    # -- batches -------------------------------------------------------------------
    def append(
        self,
        *,
        idempotency_key: str,
        metrics: MetricColumns | None = None,
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
    ) -> bool:
        """Store a batch (one transaction); False when its key is already spooled."""
        return self.append_encoded(
            idempotency_key=idempotency_key,
            points=point_count(metrics or {}),
            payload=encode_batch(metrics or {}, params, tags),
        )

    def append_encoded(self, *, idempotency_key: str, points: int, payload: str) -> bool:
        """Store a batch already in the spool's JSON shape (see :func:`encode_batch`)."""
        with self._lock:
            cursor = self._conn.execute(
                "INSERT OR IGNORE INTO batches (idempotency_key, points, payload, created_time) "
                "VALUES (?, ?, ?, ?)",
                (idempotency_key, points, payload, time.time_ns() // 1_000_000),
            )
        return cursor.rowcount == 1

    def batches(self) -> Iterator[SpooledBatch]:
        """The spooled batches in the order they were spooled (read one at a time)."""
        last = 0
        while True:
            with self._lock:
                row = self._conn.execute(
                    "SELECT seq, idempotency_key, payload FROM batches WHERE seq > ? "
                    "ORDER BY seq LIMIT 1",
                    (last,),
                ).fetchone()
            if row is None:
                return
            last = row[0]
            metrics, params, tags = decode_batch(row[2])
            yield SpooledBatch(row[0], row[1], metrics, params, tags)

    def remove(self, idempotency_key: str) -> None:
        with self._lock:
            self._conn.execute("DELETE FROM batches WHERE idempotency_key = ?", (idempotency_key,))

    def counts(self) -> tuple[int, int]:
        """(batches, metric points) still spooled."""
        with self._lock:
            row = self._conn.execute("SELECT COUNT(*), COALESCE(SUM(points), 0) FROM batches")
            batches, points = row.fetchone()
        return int(batches), int(points)

    # -- artifacts and models ------------------------------------------------------
    @property
    def files_root(self) -> Path:
        return Path(f"{self.path}{FILES_SUFFIX}")

    def add_files(
        self,
        *,
        kind: str,
        manifest: dict[str, Any],
        size: int,
        limit: int,
        stage: Callable[[Path], object],
    ) -> SpooledFiles:
        """Keep files: ``stage(folder)`` copies them into a new folder of this spool. Refused
        with :class:`ArtifactSpoolFull` when the spool folder would hold more than ``limit``
        bytes of files; nothing is kept when staging fails."""
        held = spooled_file_bytes(self.path.parent)
        if held + size > limit:
            raise ArtifactSpoolFull(
                f"The offline spool in {self.path.parent} holds {held:,} bytes of artifacts; "
                f"{size:,} more would pass its limit of {limit:,} "
                "(MLTRAIL_SPOOL_MAX_ARTIFACT_BYTES). Run `mltrail sync` once the server is "
                "back, or raise the limit"
            )
        folder = self.files_root / uuid.uuid4().hex
        folder.mkdir(parents=True)
        try:
            stage(folder)
            with self._lock:
                cursor = self._conn.execute(
                    "INSERT INTO files (kind, folder, bytes, manifest, created_time) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (kind, folder.name, size, json.dumps(manifest), time.time_ns() // 1_000_000),
                )
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return SpooledFiles(int(cursor.lastrowid or 0), kind, folder, size, manifest)

    def files(self) -> list[SpooledFiles]:
        """The kept files, in the order they were kept."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT seq, kind, folder, bytes, manifest FROM files ORDER BY seq"
            ).fetchall()
        for row in rows:
            if not _FOLDER.fullmatch(str(row[2])):
                raise ConfigurationError(
                    f"{self.path} is not a spool file this version wrote: it names the kept "
                    f"folder {str(row[2])[:80]!r}"
                )
        return [
            SpooledFiles(seq, kind, self.files_root / folder, size, json.loads(manifest))
            for seq, kind, folder, size, manifest in rows
        ]

    def remove_files(self, entry: SpooledFiles) -> None:
        with self._lock:
            self._conn.execute("DELETE FROM files WHERE seq = ?", (entry.seq,))
        shutil.rmtree(entry.folder, ignore_errors=True)

    def file_counts(self) -> tuple[int, int]:
        """(entries, bytes) of artifacts and models still kept."""
        with self._lock:
            row = self._conn.execute("SELECT COUNT(*), COALESCE(SUM(bytes), 0) FROM files")
            entries, size = row.fetchone()
        return int(entries), int(size)

    def is_empty(self) -> bool:
        with self._lock:
            batch = self._conn.execute("SELECT 1 FROM batches LIMIT 1").fetchone()
            files = self._conn.execute("SELECT 1 FROM files LIMIT 1").fetchone()
            pending = self._conn.execute(
                "SELECT 1 FROM meta WHERE name IN ('create', 'update') LIMIT 1"
            ).fetchone()
        return batch is None and files is None and pending is None

    def close(self) -> None:
        with self._lock:
            self._conn.close()
            if self._lock_file is not None:
                self._lock_file.close()
                self._lock_file = None

    def close_and_remove_if_empty(self) -> bool:
        """Close; delete the file when it holds nothing and no other process has it open."""
        empty = self.is_empty()
        self.close()
        if not empty:
            return False
        return remove_if_unused(self.path)


def remove_if_unused(path: Path) -> bool:
    """Delete a spool file (and its WAL, SHM and lock files) unless a live process holds it."""
    lock_path = Path(f"{path}.lock")
    handle: IO[bytes] | None = None
    try:
        if fcntl is not None:
            handle = open(lock_path, "ab")  # noqa: SIM115 - closed below
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
        for extra in ("", "-wal", "-shm"):
            with suppress(FileNotFoundError):
                Path(f"{path}{extra}").unlink()
        shutil.rmtree(f"{path}{FILES_SUFFIX}", ignore_errors=True)
        with suppress(FileNotFoundError):
            lock_path.unlink()
        return True
    finally:
        if handle is not None:
            handle.close()


def spool_files(directory: Path) -> list[Path]:
    """Every spool file under ``directory``, oldest first."""
    if not directory.is_dir():
        return []
    files = [p for p in directory.iterdir() if p.name.endswith(SUFFIX)]
    return sorted(files, key=lambda p: (p.stat().st_mtime, p.name))
