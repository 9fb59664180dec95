"""The import: plan, then experiments with their runs, logged models and artifacts, then the
registry, then the comparison of source and target.

Runs are written in batches (one transaction each on a SQL target); after each batch the
state file records what committed, so an interrupted import resumes. A run already in the
target is rewritten only if its fingerprint changed, and then only with the points the
target lacks, so a re-run never doubles a point. Artifacts are compared file by file
(path and size) and only missing ones are copied, each under a temporary name first.
"""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from queue import Empty, Queue
from typing import Literal, TypeVar

import numpy as np

from mltrail.errors import StorageFull
from mltrail.model_entities import LoggedModel
from mltrail.store.sql.metrics import Series
from mltrail.transfer import plan as planning
from mltrail.transfer.copier import ArtifactCopier
from mltrail.transfer.errors import TargetFull
from mltrail.transfer.progress import Progress
from mltrail.transfer.records import (
    DELETED,
    ExperimentRecord,
    RunRecord,
    model_fingerprint,
)
from mltrail.transfer.registry import RegistryImport, Relocations
from mltrail.transfer.sources.base import Source
from mltrail.transfer.state import ImportState
from mltrail.transfer.targets.base import InventoryScope, PendingRun, Target, TargetExperiment
from mltrail.transfer.verify import Comparison, Inventory, compare

T = TypeVar("T")
RUNS_PER_WRITE = 1_000
# Runs read ahead of the writer (each holds its points; a few MB at the benchmark's sizes).
PREFETCH = 256
POINTS_PER_WRITE = 500_000
ArtifactMode = Literal["copy", "reference"]


@dataclass(frozen=True)
class ImportOptions:
    experiments: tuple[str, ...] = ()
    artifacts: ArtifactMode = "copy"
    dry_run: bool = False
    include_deleted: bool = False
    on_conflict: planning.OnConflict = "fail"
    verify: bool = True


@dataclass
class ImportReport:
    source: str
    target: str
    dry_run: bool = False
    counts: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    comparison: Comparison | None = None

    @property
    def ok(self) -> bool:
        return not self.problems and (self.comparison is None or self.comparison.ok)


def prefetched(items: Iterator[T], *, depth: int = PREFETCH) -> Iterator[T]:
    """``items``, produced by a thread of their own up to ``depth`` ahead.

    Reading the source (a database driver that lets go of the GIL while it reads) overlaps
    with writing the target. Whatever the producer raises is raised here, in order; if the
    consumer stops early, the producer stops at its next item.
    """
    done = object()
    queue: Queue[object] = Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                queue.put(item)
            queue.put(done)
        except BaseException as exc:
            queue.put(_Raised(exc))

    thread = threading.Thread(target=produce, name="mltrail-import-reader", daemon=True)
    thread.start()
    try:
        while True:
            item = queue.get()
            if item is done:
                return
            if isinstance(item, _Raised):
                raise item.error
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        while thread.is_alive():
            with contextlib.suppress(Empty):
                queue.get(timeout=0.1)


@dataclass(frozen=True)
class _Raised:
    error: BaseException


def missing_points(source: Series, stored: Series) -> Series:
    """The points of ``source`` that ``stored`` does not hold (as a multiset)."""
    if not len(stored):
        return source

    def keys(s: Series) -> list[tuple[int, int, int]]:
        values = np.where(np.isnan(s.values), np.nan, s.values).astype(np.float64)
        return list(
            zip(
                s.steps.tolist(), s.timestamps.tolist(), values.view(np.int64).tolist(), strict=True
            )
        )

    have = Counter(keys(stored))
    keep: list[int] = []
    for i, key in enumerate(keys(source)):
        if have[key] > 0:
            have[key] -= 1
        else:
            keep.append(i)
    return source.take(np.array(keep, dtype=np.int64))


class Importer:
    def __init__(
        self,
        source: Source,
        target: Target,
        *,
        state: ImportState,
        options: ImportOptions,
        progress: Progress | None = None,
    ) -> None:
        self.source = source
        self.target = target
        self.state = state
        self.options = options
        self.progress = progress or Progress(enabled=False)
        self.report = ImportReport(source.label, target.label, dry_run=options.dry_run)
        self.copier = ArtifactCopier(
            source, target, progress=self.progress, report=self.report, mode=options.artifacts
        )
        self.relocations = Relocations()
        self._source_inv = Inventory()
        self._owners: dict[str, str] = {}
        self._scope_runs: list[str] = []
        self._scope_models: list[str] = []
        self._scope_experiments: list[str] = []
        self._runs: list[RunRecord] = []
        self._by_id: dict[str, RunRecord] = {}
        self._locations: dict[str, str] = {}
        # logged model id -> its artifact location at the source
        self.model_sources: dict[str, str] = {}
        # The registry's part of the source inventory (filled by RegistryImport).
        self.registry_inventory = Inventory()

    # -- the whole import ------------------------------------------------------------

    def run(self) -> ImportReport:
        plan, runs_by_exp = self._plan()
        self.progress.runs_total = sum(len(r) for r in runs_by_exp.values())
        all_runs = [r for rs in runs_by_exp.values() for r in rs]
        estimate = getattr(self.source, "point_estimate", None)
        if estimate is not None:
            self.progress.points_total = estimate(all_runs)
        elif self.source.counts_are_cheap:
            counts = self.source.metric_counts(all_runs)
            self.progress.points_total = sum(sum(c.values()) for c in counts.values())
        if self.options.dry_run:
            return self._dry_run(plan, runs_by_exp)
        try:
            for item in plan.experiments:
                if not item.skip:
                    self._import_experiment(item, runs_by_exp[item.record.source_id])
            RegistryImport(self).run(plan.registered)
        except StorageFull as exc:
            raise TargetFull(
                f"{exc.message.rstrip('.')}. What was imported before is kept and consistent; "
                "free some space and run the same command again to continue"
            ) from exc
        finally:
            self.progress.close()
        if self.options.verify:
            self.report.comparison = self._verify()
        return self.report

    def _plan(self) -> tuple[planning.Plan, dict[str, list[RunRecord]]]:
        plan = planning.Plan()
        records, notes = planning.select_experiments(
            self.source.experiments(),
            names=self.options.experiments,
            include_deleted=self.options.include_deleted,
            source_label=self.source.label,
        )
        plan.notes.extend(notes)
        experiments, notes, conflicts = planning.plan_experiments(
            records, target=self.target.experiments(), state=self.state,
            on_conflict=self.options.on_conflict,
        )  # fmt: skip
        plan.experiments = experiments
        plan.notes.extend(notes)
        registered, notes, more = planning.plan_registered(
            self.source.registered_models(),
            target_names=self.target.registered_names(),
            state=self.state,
            on_conflict=self.options.on_conflict,
        )
        plan.registered = registered
        plan.notes.extend(notes)
        planning.raise_conflicts(conflicts + more, target_label=self.target.label)
        self.report.notes.extend(plan.notes)
        runs_by_exp: dict[str, list[RunRecord]] = {}
        for item in plan.experiments:
            if item.skip:
                continue
            runs = self.source.runs(item.record)
            if not self.options.include_deleted:
                runs = [r for r in runs if not r.deleted]
            runs_by_exp[item.record.source_id] = runs
        return plan, runs_by_exp

    # -- dry run ----------------------------------------------------------------------

    def _dry_run(
        self, plan: planning.Plan, runs_by_exp: dict[str, list[RunRecord]]
    ) -> ImportReport:
        c = self.report.counts
        all_runs = [r for rs in runs_by_exp.values() for r in rs]
        existing = self.target.run_experiments([r.run_id for r in all_runs])
        counts = self.source.metric_counts(all_runs)
        for item in plan.experiments:
            if item.skip:
                continue
            c["experiments (new)" if item.existing is None else "experiments (already there)"] += 1
            for run in runs_by_exp[item.record.source_id]:
                unchanged = (
                    run.run_id in existing and self.state.runs.get(run.run_id) == run.fingerprint()
                )
                c["runs (unchanged)" if unchanged else "runs"] += 1
                if unchanged:
                    continue
                c["params"] += len(run.params)
                c["tags"] += len(run.tags)
                c["metric keys"] += len(counts.get(run.run_id, {}))
                c["metric points"] += sum(counts.get(run.run_id, {}).values())
                listed = self.copier.listing(run.artifact_uri, owner=f"run {run.run_id}") or []
                c["artifact files"] += len(listed)
                c["artifact bytes"] += sum(f.size for f in listed)
            models = self._models_of(item.record)
            c["logged models"] += len(models)
            for model in models:
                files = self.copier.listing(
                    model.artifact_location, owner=f"model {model.model_id}"
                )
                c["artifact files"] += len(files or [])
                c["artifact bytes"] += sum(f.size for f in files or [])
        for reg in plan.registered:
            if not reg.skip:
                c["registered models"] += 1
                c["model versions"] += len(reg.record.versions)
                c["aliases"] += len(reg.record.aliases)
        return self.report

    # -- experiments and runs -----------------------------------------------------------

    def _import_experiment(self, item: planning.ExperimentPlan, runs: list[RunRecord]) -> None:
        record = item.record
        location = self._experiment_location(record)
        if item.existing is None:
            experiment = self.target.create_experiment(
                record, name=item.name, artifact_location=location
            )
            self.report.counts["experiments (new)"] += 1
        else:
            experiment = item.existing
            if experiment.experiment_id == planning.DEFAULT_EXPERIMENT_ID:
                # The catch-all keeps its own stage and times; the source's tags are added.
                record = replace(
                    record,
                    lifecycle_stage=experiment.lifecycle_stage,
                    deleted_time=None,
                )
            self.target.update_experiment(experiment, record)
            self.report.counts["experiments (updated)"] += 1
        self.state.experiments[record.source_id] = experiment.experiment_id
        self.state.experiment_names[record.source_id] = experiment.name
        self.state.save()
        self._source_inv.experiments[experiment.name] = (
            experiment.lifecycle_stage
            if experiment.experiment_id == planning.DEFAULT_EXPERIMENT_ID
            else record.lifecycle_stage
        )
        self._scope_experiments.append(experiment.experiment_id)
        self.relocations.add(record.artifact_location, experiment.artifact_location)
        self._import_runs(experiment, runs)
        self._import_models(experiment, record)
        if experiment.experiment_id != planning.DEFAULT_EXPERIMENT_ID:
            self.target.finish_experiment(experiment, record)

    def _experiment_location(self, record: ExperimentRecord) -> str | None:
        if self.options.artifacts == "reference" and record.artifact_location:
            return self.copier.readable(record.artifact_location)
        return None

    def _import_runs(self, experiment: TargetExperiment, runs: list[RunRecord]) -> None:
        existing = self.target.run_experiments([r.run_id for r in runs])
        to_write: list[RunRecord] = []
        for run in runs:
            where = existing.get(run.run_id)
            if where is not None and where != experiment.experiment_id:
                self.report.problems.append(
                    f"run {run.run_id} already exists in the target's experiment {where}, not "
                    f"in {experiment.name!r}: left as it is"
                )
                continue
            self._remember_run(experiment, run)
            if where is not None and self.state.runs.get(run.run_id) == run.fingerprint():
                self.report.counts["runs (unchanged)"] += 1
                self.progress.add(runs=1)
                continue
            to_write.append(run)
        pending: list[PendingRun] = []
        points = 0
        for run_id, series in prefetched(self.source.series(to_write)):
            run = self._by_id[run_id]
            is_new = run_id not in existing
            if not is_new:
                stored = self.target.stored_series(run_id, series)
                series = {k: missing_points(s, stored[k]) for k, s in series.items()}
            pending.append(
                PendingRun(run, experiment.experiment_id, self._locations[run_id], series, is_new)
            )
            points += sum(len(s) for s in series.values())
            if len(pending) >= RUNS_PER_WRITE or points >= POINTS_PER_WRITE:
                self._flush(pending)
                pending, points = [], 0
        self._flush(pending)
        for run in runs:
            if run.run_id in self._locations:
                self.copier.copy(
                    run.artifact_uri, self._locations[run.run_id], owner=f"run {run.run_id}"
                )

    def _remember_run(self, experiment: TargetExperiment, run: RunRecord) -> None:
        location = (
            self.copier.readable(run.artifact_uri)
            if self.options.artifacts == "reference"
            else self.target.run_location(experiment, run.run_id)
        )
        self._by_id[run.run_id] = run
        self._locations[run.run_id] = location
        self.relocations.add(run.artifact_uri, location)
        self._runs.append(run)
        self._scope_runs.append(run.run_id)
        self._source_inv.runs[run.run_id] = (experiment.name, run.status, run.lifecycle_stage)
        self._source_inv.params[run.run_id] = dict(run.params)
        self._source_inv.tags[run.run_id] = run.all_tags()

    def _flush(self, pending: list[PendingRun]) -> None:
        if not pending:
            return
        self.target.write_runs(pending)
        for p in pending:
            self.state.runs[p.record.run_id] = p.record.fingerprint()
            c = self.report.counts
            c["runs (new)" if p.is_new else "runs (updated)"] += 1
            c["metric points"] += sum(len(s) for s in p.series.values())
        self.state.save()
        self.progress.add(runs=len(pending), points=sum(
            sum(len(s) for s in p.series.values()) for p in pending
        ))  # fmt: skip

    # -- logged models ----------------------------------------------------------------

    def _models_of(self, record: ExperimentRecord) -> list[LoggedModel]:
        models = self.source.logged_models(record)
        if not self.options.include_deleted:
            models = [m for m in models if m.lifecycle_stage != DELETED]
        return models

    def _import_models(self, experiment: TargetExperiment, record: ExperimentRecord) -> None:
        models = self._models_of(record)
        existing = self.target.existing_models([m.model_id for m in models])
        for model in models:
            location = (
                self.copier.readable(model.artifact_location)
                if self.options.artifacts == "reference"
                else self.target.model_location(experiment, model.model_id)
            )
            self.relocations.add(model.artifact_location, location)
            self.model_sources[model.model_id] = model.artifact_location
            moved = replace(
                model, experiment_id=experiment.experiment_id, artifact_location=location
            )
            fingerprint = model_fingerprint(model)
            if (
                model.model_id not in existing
                or self.state.logged_models.get(model.model_id) != fingerprint
            ):
                self.target.write_logged_model(moved, is_new=model.model_id not in existing)
                self.state.logged_models[model.model_id] = fingerprint
                self.state.save()
                self.report.counts["logged models"] += 1
            self._scope_models.append(model.model_id)
            self._source_inv.logged_models[model.model_id] = (
                model.name,
                model.status.value,
                model.lifecycle_stage,
            )
            self.copier.copy(
                model.artifact_location,
                location,
                owner=f"model {model.model_id}",
                required=model.status.value == "LOGGED_MODEL_READY",
            )

    # -- verification -------------------------------------------------------------------

    def _verify(self) -> Comparison:
        counts = self.source.metric_counts(self._runs)
        self._source_inv.metrics = {run_id: keys for run_id, keys in counts.items() if keys}
        self._source_inv.artifacts = {
            owner: files for owner, files in self.copier.seen.items() if files
        }
        registry = self.registry_inventory
        self._source_inv.registered_models = registry.registered_models
        self._source_inv.versions = registry.versions
        self._source_inv.aliases = registry.aliases
        scope = InventoryScope(
            experiment_ids=self._scope_experiments,
            run_ids=self._scope_runs,
            model_ids=self._scope_models,
            registered_names=list(registry.registered_models),
            artifact_locations={
                owner: self.copier.destinations[owner] for owner in self._source_inv.artifacts
            },
        )
        target_inv = self.target.inventory(scope)
        return compare(self._source_inv, target_inv)

    def run_record(self, run_id: str) -> RunRecord | None:
        return self._by_id.get(run_id)

    def imported_runs(self) -> set[str]:
        return set(self._scope_runs)

    def imported_models(self) -> set[str]:
        return set(self._scope_models)


__all__ = ["ImportOptions", "ImportReport", "Importer", "missing_points"]
