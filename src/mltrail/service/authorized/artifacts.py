"""Proxied artifacts, checked against the experiment whose folder a path is in."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from mltrail.artifacts.paths import safe_relpath
from mltrail.entities import FileInfo
from mltrail.errors import PermissionDenied, ResourceDoesNotExist
from mltrail.service.authorized.principal import AdminUnlessChecked, principal
from mltrail.service.permissions import Level, Principal, parse_experiment_key


class AuthorizedArtifacts(AdminUnlessChecked):
    """Proxied artifacts: the first path segment is the experiment id."""

    @property
    def destination(self) -> Any:
        # Only admins reach the raw store; the UI reaches it after a run read check.
        return self.inner.destination

    def _check(self, path: str, need: Level) -> None:
        # A path that could name something outside the destination is refused as such (400)
        # before its first segment is taken for an experiment id.
        rel = safe_relpath(path)
        who = principal()
        if who.is_admin:
            return
        key = parse_experiment_key(rel.split("/", 1)[0])
        missing = ResourceDoesNotExist(f"Artifact {rel!r} does not exist")
        if key is None:
            raise missing
        have = self.permissions.experiment_level(who, key)
        if have < Level.READ:
            raise missing
        if have < need:
            raise PermissionDenied("Permission denied")

    def put(self, path: str, chunks: Iterable[bytes]) -> int:
        self._check(path, Level.EDIT)
        size: int = self.inner.put(path, chunks)
        return size

    def open(
        self, path: str, start: int = 0, end: int | None = None
    ) -> tuple[Iterator[bytes], int, str]:
        self._check(path, Level.READ)
        opened: tuple[Iterator[bytes], int, str] = self.inner.open(path, start, end)
        return opened

    def list(self, path: str = "") -> list[FileInfo]:
        who = principal()
        if not who.is_admin and not str(path).strip("/"):
            # The root lists experiment folders: show only the readable ones.
            entries: list[FileInfo] = self.inner.list(path)
            return [e for e in entries if self._readable_folder(who, e.path)]
        self._check(path, Level.READ)
        found: list[FileInfo] = self.inner.list(path)
        return found

    def _readable_folder(self, who: Principal, path: str) -> bool:
        key = parse_experiment_key(path.strip("/").split("/", 1)[0])
        return key is not None and self.permissions.experiment_level(who, key) >= Level.READ

    def delete(self, path: str) -> None:
        self._check(path, Level.MANAGE)
        self.inner.delete(path)
