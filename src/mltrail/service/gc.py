"""Garbage collection: permanently remove soft-deleted runs and experiments and their artifacts.

Artifacts go first, rows second: if removing a run's files fails, its rows stay (still soft-
deleted) and the next ``mltrail gc`` tries again; the other order would leave files that
nothing points to any more.

Artifact locations of the form ``mlflow-artifacts:/<path>`` are files a tracking server stored
for its clients; they live at ``<path>`` under that server's artifacts destination, which the
caller must supply.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Protocol
from urllib.parse import unquote, urlparse

from mltrail.artifacts.base import ArtifactStore
from mltrail.artifacts.paths import PROXIED_URI_SCHEMES, safe_relpath
from mltrail.errors import ConfigurationError, InvalidParameterValue, MltrailError

_AGE_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_UNIT_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}


class RunRecord(Protocol):
    @property
    def run_id(self) -> str: ...
    @property
    def experiment_id(self) -> str: ...
    @property
    def artifact_uri(self) -> str: ...


class ExperimentRecord(Protocol):
    @property
    def experiment_id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def artifact_location(self) -> str: ...
    @property
    def runs(self) -> Sequence[RunRecord]: ...


class GarbageStore(Protocol):
    def deleted_runs(
        self,
        *,
        cutoff_ms: int | None,
        experiment_ids: Sequence[str] | None = None,
        run_ids: Sequence[str] | None = None,
    ) -> Sequence[RunRecord]: ...

    def deleted_experiments(
        self, *, cutoff_ms: int | None, experiment_ids: Sequence[str] | None = None
    ) -> Sequence[ExperimentRecord]: ...

    def purge_runs(self, run_ids: Sequence[str]) -> Sequence[str]: ...

    def purge_experiments(self, experiment_ids: Sequence[str]) -> Sequence[str]: ...


ArtifactOpener = Callable[[str], ArtifactStore]


@dataclass(frozen=True)
class RemovedRun:
    run_id: str
    experiment_id: str
    artifact_uri: str


@dataclass(frozen=True)
class RemovedExperiment:
    experiment_id: str
    name: str
    artifact_location: str
    run_count: int


@dataclass
class GcReport:
    """What was removed (or, with ``dry_run``, what would be)."""

    dry_run: bool
    runs: list[RemovedRun] = field(default_factory=list)
    experiments: list[RemovedExperiment] = field(default_factory=list)
    # Artifact folders that existed and were removed.
    artifact_locations: list[str] = field(default_factory=list)
    # One line per item that could not be removed; those items keep their rows.
    errors: list[str] = field(default_factory=list)
    # Temporary files of uploads a killed server left in the destination (paths below it).
    interrupted_uploads: list[str] = field(default_factory=list)


def parse_age(text: str) -> int:
    """``"30d"``, ``"12h"``, ``"1d12h"``, ``"90m"``, ``"2w"``, ``"45s"`` in milliseconds."""
    cleaned = text.strip().lower().replace(" ", "")
    pos = 0
    total = 0.0
    for match in _AGE_PART.finditer(cleaned):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNIT_MS[match.group(2)]
        pos = match.end()
    if not cleaned or pos != len(cleaned):
        raise InvalidParameterValue(
            f"Invalid age {text!r}: use a number and a unit (s, m, h, d, w), e.g. 30d, 12h, 1d12h"
        )
    return int(total)


class _Locations:
    """Removes artifact folders named by stored URIs, each through the one path gate."""

    def __init__(self, *, open_store: ArtifactOpener, destination: ArtifactStore | None) -> None:
        self._open = open_store
        self._destination = destination

    @staticmethod
    def is_proxied(uri: str) -> bool:
        return urlparse(uri).scheme.lower() in PROXIED_URI_SCHEMES

    def _parent_and_leaf(self, uri: str) -> tuple[ArtifactStore, str, str]:
        """(store of the parent folder, parent path within it, name of the folder itself)."""
        if self.is_proxied(uri):
            if self._destination is None:
                raise ConfigurationError(
                    f"{uri!r} is stored by a tracking server; pass its --artifacts-destination"
                )
            rel = safe_relpath(urlparse(uri).path.lstrip("/"))
            if not rel:
                raise InvalidParameterValue(f"Refusing to remove the whole destination ({uri!r})")
            parent, _, leaf = rel.rpartition("/")
            return self._destination, parent, leaf
        parsed = urlparse(uri)
        if parsed.scheme and len(parsed.scheme) > 1 and parsed.scheme != "file":
            path = parsed.path.strip("/")
            if not path:
                raise InvalidParameterValue(f"Refusing to remove a whole bucket ({uri!r})")
            head = uri.rstrip("/")
            parent_uri, _, leaf = head.rpartition("/")
            return self._open(parent_uri), "", safe_relpath(leaf)
        # file: URIs are percent-encoded (a space is %20); the folder's real name is decoded.
        local = PurePosixPath(unquote(parsed.path) if parsed.scheme == "file" else uri)
        if local.parent == local or len(local.parts) < 3:
            raise InvalidParameterValue(f"Refusing to remove a top-level folder ({uri!r})")
        parent_uri = uri.rstrip("/").rpartition("/")[0]
        return self._open(parent_uri), "", safe_relpath(local.name)

    def exists(self, uri: str) -> bool:
        store, parent, leaf = self._parent_and_leaf(uri)
        return store.exists(f"{parent}/{leaf}" if parent else leaf)

    def remove(self, uri: str, *, run_id: str | None = None) -> bool:
        """Remove the folder; True if it existed."""
        store, parent, leaf = self._parent_and_leaf(uri)
        target = f"{parent}/{leaf}" if parent else leaf
        existed = store.exists(target)
        if existed:
            store.delete(target)
        if run_id is not None:
            self._prune_run_folder(uri, store=store, parent=parent, run_id=run_id)
        return existed

    def _prune_run_folder(
        self, uri: str, *, store: ArtifactStore, parent: str, run_id: str
    ) -> None:
        # Run locations are <experiment>/<run_id>/artifacts: without this, an empty <run_id>
        # folder would stay behind on a local disk (object stores have no empty folders).
        if parent:
            empty = store.is_dir(parent) and not store.list(parent)
            if parent.rpartition("/")[2] == run_id and empty:
                store.delete(parent)
            return
        run_folder = uri.rstrip("/").rpartition("/")[0]
        grandparent, _, name = run_folder.rpartition("/")
        if name != run_id or not grandparent or grandparent.endswith(":/"):
            return
        outer = self._open(grandparent)
        if outer.is_dir(run_id) and not outer.list(run_id):
            outer.delete(run_id)


def collect_garbage(
    store: GarbageStore,
    *,
    open_store: ArtifactOpener,
    artifacts_destination: ArtifactStore | None = None,
    older_than_ms: int | None = None,
    experiment_ids: Sequence[str] | None = None,
    run_ids: Sequence[str] | None = None,
    dry_run: bool = False,
    now_ms: int | None = None,
) -> GcReport:
    """Permanently remove soft-deleted experiments and runs (deleted at least ``older_than_ms``
    ago, if given) with their artifact folders; restricted to ``experiment_ids`` / ``run_ids``
    when given."""
    if older_than_ms is not None and older_than_ms < 0:
        raise InvalidParameterValue("older_than must not be negative")
    now = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    cutoff = None if older_than_ms is None else now - older_than_ms
    exps = (
        []
        if run_ids
        else list(store.deleted_experiments(cutoff_ms=cutoff, experiment_ids=experiment_ids))
    )
    in_purged_exps = {r.run_id for e in exps for r in e.runs}
    lone_runs = [
        r
        for r in store.deleted_runs(
            cutoff_ms=cutoff, experiment_ids=experiment_ids, run_ids=run_ids
        )
        if r.run_id not in in_purged_exps
    ]
    locations = _Locations(open_store=open_store, destination=artifacts_destination)
    needs_destination = [
        uri
        for uri in [e.artifact_location for e in exps]
        + [r.artifact_uri for e in exps for r in e.runs]
        + [r.artifact_uri for r in lone_runs]
        if locations.is_proxied(uri)
    ]
    if needs_destination and artifacts_destination is None:
        raise ConfigurationError(
            f"{len(needs_destination)} artifact location(s) such as {needs_destination[0]!r} "
            "were stored through a tracking server; pass the server's --artifacts-destination "
            "so that their files can be removed"
        )
    # A mistyped destination would otherwise look like runs without files: their rows
    # would go and their files would stay behind for good.
    if needs_destination and artifacts_destination and not artifacts_destination.is_dir(""):
        raise ConfigurationError(
            f"The artifacts destination {artifacts_destination.root!r} does not exist "
            "(or is empty); check --artifacts-destination"
        )
    report = GcReport(dry_run=dry_run)
    for exp in exps:
        _collect_experiment(store, exp, locations=locations, report=report)
    _collect_runs(store, lone_runs, locations=locations, report=report)
    return report


def _remove_folder(
    locations: _Locations, uri: str, *, run_id: str | None, report: GcReport
) -> None:
    if report.dry_run:
        if locations.exists(uri):
            report.artifact_locations.append(uri)
        return
    if locations.remove(uri, run_id=run_id):
        report.artifact_locations.append(uri)


def _collect_experiment(
    store: GarbageStore, exp: ExperimentRecord, *, locations: _Locations, report: GcReport
) -> None:
    try:
        for run in exp.runs:
            _remove_folder(locations, run.artifact_uri, run_id=run.run_id, report=report)
        _remove_folder(locations, exp.artifact_location, run_id=None, report=report)
    except (MltrailError, OSError) as exc:
        report.errors.append(f"experiment {exp.experiment_id}: artifacts not removed: {exc}")
        return
    if not report.dry_run and not store.purge_experiments([exp.experiment_id]):
        return  # restored meanwhile
    report.experiments.append(
        RemovedExperiment(
            experiment_id=exp.experiment_id,
            name=exp.name,
            artifact_location=exp.artifact_location,
            run_count=len(exp.runs),
        )
    )
    report.runs.extend(
        RemovedRun(run_id=r.run_id, experiment_id=r.experiment_id, artifact_uri=r.artifact_uri)
        for r in exp.runs
    )


def _collect_runs(
    store: GarbageStore, runs: Sequence[RunRecord], *, locations: _Locations, report: GcReport
) -> None:
    ready: list[RunRecord] = []
    for run in runs:
        try:
            _remove_folder(locations, run.artifact_uri, run_id=run.run_id, report=report)
        except (MltrailError, OSError) as exc:
            report.errors.append(f"run {run.run_id}: artifacts not removed: {exc}")
            continue
        ready.append(run)
    removed = (
        {r.run_id for r in ready}
        if report.dry_run
        else set(store.purge_runs([r.run_id for r in ready]))
    )
    report.runs.extend(
        RemovedRun(run_id=r.run_id, experiment_id=r.experiment_id, artifact_uri=r.artifact_uri)
        for r in ready
        if r.run_id in removed
    )
