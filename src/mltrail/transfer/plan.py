"""Deciding what an import does before it writes anything: which experiments and registered
models, under which names, and what to do about names the target already has.

A name that exists in the target and was not put there by an earlier run of the same
import is a conflict; ``--on-conflict`` says what to do: ``fail`` (the default: nothing is
written and every conflict is listed), ``skip`` (leave that experiment or model out) or
``rename`` (import it as ``<name> (imported)``). Experiment ``0`` is the catch-all
"Default" of both MLflow and mltrail: its runs go into the target's experiment ``0``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from mltrail.transfer.errors import NameConflict, NotSourceData
from mltrail.transfer.records import ExperimentRecord, RegisteredModelRecord
from mltrail.transfer.state import ImportState
from mltrail.transfer.targets.base import TargetExperiment

OnConflict = Literal["fail", "skip", "rename"]
DEFAULT_EXPERIMENT_ID = "0"


@dataclass
class ExperimentPlan:
    record: ExperimentRecord
    name: str
    # The target experiment this one already maps to (None: create it).
    existing: TargetExperiment | None
    skip: bool = False


@dataclass
class RegisteredPlan:
    record: RegisteredModelRecord
    name: str
    mapped: bool
    skip: bool = False


@dataclass
class Plan:
    experiments: list[ExperimentPlan] = field(default_factory=list)
    registered: list[RegisteredPlan] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def select_experiments(
    records: Sequence[ExperimentRecord],
    *,
    names: Sequence[str],
    include_deleted: bool,
    source_label: str,
) -> tuple[list[ExperimentRecord], list[str]]:
    """The experiments to import (by ``--experiment`` names) and notes about the rest."""
    notes: list[str] = []
    chosen = list(records)
    if names:
        by_name = {r.name: r for r in records}
        unknown = [n for n in names if n not in by_name]
        if unknown:
            raise NotSourceData(
                f"No experiment named {', '.join(repr(n) for n in unknown)} in {source_label}"
            )
        chosen = [by_name[n] for n in dict.fromkeys(names)]
    if not include_deleted:
        deleted = [r for r in chosen if r.deleted]
        if deleted:
            notes.append(
                f"{len(deleted)} deleted experiment(s) left out "
                f"({', '.join(r.name for r in deleted[:5])}); --include-deleted imports them"
            )
        chosen = [r for r in chosen if not r.deleted]
    return chosen, notes


def plan_experiments(
    records: Sequence[ExperimentRecord],
    *,
    target: Sequence[TargetExperiment],
    state: ImportState,
    on_conflict: OnConflict,
) -> tuple[list[ExperimentPlan], list[str], list[str]]:
    """(plans, notes, conflicts): conflicts are only returned for ``on_conflict="fail"``."""
    by_id = {e.experiment_id: e for e in target}
    taken = {e.name for e in target}
    plans: list[ExperimentPlan] = []
    notes: list[str] = []
    conflicts: list[str] = []
    for record in records:
        mapped = by_id.get(state.experiments.get(record.source_id, ""))
        if mapped is not None and mapped.name == state.experiment_names.get(record.source_id):
            plans.append(ExperimentPlan(record, mapped.name, mapped))
            continue
        if record.source_id == DEFAULT_EXPERIMENT_ID and DEFAULT_EXPERIMENT_ID in by_id:
            default = by_id[DEFAULT_EXPERIMENT_ID]
            plans.append(ExperimentPlan(record, default.name, default))
            notes.append(
                f"experiment {record.name!r} (id 0, the catch-all) goes into the target's "
                f"experiment 0 {default.name!r}"
            )
            continue
        if record.name not in taken:
            taken.add(record.name)
            plans.append(ExperimentPlan(record, record.name, None))
            continue
        if on_conflict == "fail":
            conflicts.append(f"experiment {record.name!r}")
        elif on_conflict == "skip":
            plans.append(ExperimentPlan(record, record.name, None, skip=True))
            notes.append(f"experiment {record.name!r} exists in the target: skipped with its runs")
        else:
            new_name = unique_name(record.name, taken)
            taken.add(new_name)
            plans.append(ExperimentPlan(record, new_name, None))
            notes.append(
                f"experiment {record.name!r} exists in the target: imported as {new_name!r}"
            )
    return plans, notes, conflicts


def plan_registered(
    records: Sequence[RegisteredModelRecord],
    *,
    target_names: set[str],
    state: ImportState,
    on_conflict: OnConflict,
) -> tuple[list[RegisteredPlan], list[str], list[str]]:
    taken = set(target_names)
    plans: list[RegisteredPlan] = []
    notes: list[str] = []
    conflicts: list[str] = []
    for record in records:
        mapped = state.registered_models.get(record.name)
        if mapped is not None and mapped in target_names:
            plans.append(RegisteredPlan(record, mapped, mapped=True))
            continue
        if record.name not in taken:
            taken.add(record.name)
            plans.append(RegisteredPlan(record, record.name, mapped=False))
            continue
        if on_conflict == "fail":
            conflicts.append(f"registered model {record.name!r}")
        elif on_conflict == "skip":
            plans.append(RegisteredPlan(record, record.name, mapped=False, skip=True))
            notes.append(f"registered model {record.name!r} exists in the target: skipped")
        else:
            new_name = unique_name(record.name, taken)
            taken.add(new_name)
            plans.append(RegisteredPlan(record, new_name, mapped=False))
            notes.append(
                f"registered model {record.name!r} exists in the target: imported as {new_name!r}"
            )
    return plans, notes, conflicts


def unique_name(name: str, taken: set[str]) -> str:
    candidate = f"{name} (imported)"
    n = 2
    while candidate in taken:
        candidate = f"{name} (imported {n})"
        n += 1
    return candidate


def raise_conflicts(conflicts: Sequence[str], *, target_label: str) -> None:
    if not conflicts:
        return
    listed = ", ".join(conflicts[:10]) + (
        f" and {len(conflicts) - 10} more" if len(conflicts) > 10 else ""
    )
    raise NameConflict(
        f"{listed} already exist(s) in {target_label} and were not imported there by this "
        "import; nothing was written. Choose --on-conflict skip (leave them out) or "
        "--on-conflict rename (import them under a new name)"
    )
