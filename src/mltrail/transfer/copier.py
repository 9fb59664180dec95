"""Copying artifact files from a source location to a target location, resumably.

Both sides are listed (path and size) and only the files the target lacks, or holds with
another size, are copied; each lands under a temporary name and is renamed when complete,
so an interrupted copy never leaves a truncated file that a re-run would take for done.
A full disk at the target stops the import (it cannot go on); a file missing or unreadable
at the source is a problem that is reported, and the rest continues.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from mltrail.errors import MltrailError, ResourceDoesNotExist, StorageFull
from mltrail.transfer.records import ArtifactFile
from mltrail.transfer.sources.base import Source
from mltrail.transfer.sources.locations import UnreadableLocation
from mltrail.transfer.targets.base import Target, walk

if TYPE_CHECKING:
    from mltrail.transfer.engine import ImportReport
    from mltrail.transfer.progress import Progress


class ArtifactCopier:
    def __init__(
        self,
        source: Source,
        target: Target,
        *,
        progress: Progress,
        report: ImportReport,
        mode: str = "copy",
    ) -> None:
        self.source = source
        self.target = target
        self.progress = progress
        self.report = report
        self.mode = mode
        # owner -> the source's files, as listed; owner -> target location
        self.seen: dict[str, dict[str, int]] = {}
        self.destinations: dict[str, str] = {}

    def readable(self, location: str) -> str:
        """The location as mltrail can read it (``--artifacts reference``)."""
        return self.source.readable_location(location)

    def listing(self, location: str, *, owner: str) -> list[ArtifactFile] | None:
        """The files below ``location`` (None: unreadable, and reported as a problem)."""
        if not location:
            return []
        try:
            files = self.source.list_artifacts(location)
        except UnreadableLocation as exc:
            self.report.problems.append(f"{owner}: {exc.message}")
            return None
        except (OSError, MltrailError) as exc:
            self.report.problems.append(
                f"{owner}: cannot list artifacts at {location}: {_why(exc)}"
            )
            return None
        self.seen[owner] = {f.path: f.size for f in files}
        return files

    def copy(self, src: str, dst: str, *, owner: str, required: bool = False) -> None:
        """Bring ``dst`` up to date with ``src``; ``required``: an empty source is a problem."""
        self.destinations[owner] = dst
        files = self.listing(src, owner=owner)
        if files is None:
            return
        if not files:
            if required and src:
                self.report.problems.append(
                    f"{owner}: its artifacts are missing at the source ({src}: no files)"
                )
            return
        self.progress.bytes_total += sum(f.size for f in files)
        if self.mode == "reference":
            self.progress.add(nbytes=sum(f.size for f in files))
            return
        sink = self.target.artifacts(dst)
        have = walk(sink)
        for f in files:
            if have.get(f.path) == f.size:
                self.progress.add(nbytes=f.size)
                continue
            self._copy_file(src, f, sink=sink, owner=owner)

    def _copy_file(self, src: str, f: ArtifactFile, *, sink: Any, owner: str) -> None:
        try:
            chunks = self._tracked(self.source.open_artifact(src, f.path))
            sink.write_stream(f.path, chunks)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise StorageFull(
                    f"The disk under the target's artifacts is full while copying {f.path} of "
                    f"{owner} to {getattr(sink, 'root', '')}"
                ) from exc
            if isinstance(exc, FileNotFoundError):
                self.report.problems.append(
                    f"{owner}: artifact {f.path} is missing at the source ({src})"
                )
                return
            self.report.problems.append(f"{owner}: cannot copy artifact {f.path}: {_why(exc)}")
            return
        except ResourceDoesNotExist:
            self.report.problems.append(
                f"{owner}: artifact {f.path} is missing at the source ({src})"
            )
            return
        except MltrailError as exc:
            if exc.status == 507:
                raise StorageFull(
                    f"The target's artifact storage is full while copying {f.path} of {owner} "
                    f"to {getattr(sink, 'root', '')}: {exc.message}"
                ) from exc
            self.report.problems.append(f"{owner}: cannot copy artifact {f.path}: {exc.message}")
            return
        self.report.counts["artifact files"] += 1
        self.report.counts["artifact bytes"] += f.size

    def _tracked(self, chunks: Iterator[bytes]) -> Iterator[bytes]:
        for chunk in chunks:
            self.progress.add(nbytes=len(chunk))
            yield chunk


def _why(exc: BaseException) -> str:
    message = getattr(exc, "message", None) or str(exc)
    return message.splitlines()[0] if message else type(exc).__name__
