"""The proof at the end of an import: source and target compared, as a table.

Both sides are reduced to the same :class:`Inventory` (experiments by target name, runs,
params, tags, metric keys and point counts per run, artifact files and sizes, logged
models, registered models, versions, aliases). What the source holds and the target lacks
or holds differently is a difference; things only the target has (a tag mltrail adds, a
run logged there later) are not. Any difference makes the import's exit status non-zero.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

MAX_LISTED = 20


@dataclass
class Inventory:
    # target experiment name -> lifecycle stage
    experiments: dict[str, str] = field(default_factory=dict)
    # run_id -> (target experiment name, status, lifecycle stage)
    runs: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    params: dict[str, dict[str, str]] = field(default_factory=dict)
    tags: dict[str, dict[str, str]] = field(default_factory=dict)
    # run_id -> key -> number of points
    metrics: dict[str, dict[str, int]] = field(default_factory=dict)
    # "run <id>" / "model <id>" -> path -> size
    artifacts: dict[str, dict[str, int]] = field(default_factory=dict)
    # model_id -> (name, status, lifecycle stage)
    logged_models: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    # target name -> description
    registered_models: dict[str, str] = field(default_factory=dict)
    # (target name, version) -> (stage, run_id)
    versions: dict[tuple[str, int], tuple[str, str]] = field(default_factory=dict)
    # (target name, alias) -> version
    aliases: dict[tuple[str, str], int] = field(default_factory=dict)


@dataclass(frozen=True)
class Row:
    what: str
    source: int
    target: int
    differences: int


@dataclass
class Comparison:
    rows: list[Row]
    details: list[str]

    @property
    def ok(self) -> bool:
        return all(r.differences == 0 for r in self.rows)

    def table(self) -> str:
        lines = [f"{'':<20}{'source':>12}{'target':>12}{'differences':>14}"]
        for r in self.rows:
            lines.append(f"{r.what:<20}{r.source:>12,}{r.target:>12,}{r.differences:>14,}")
        shown = self.details[:MAX_LISTED]
        lines.extend(f"  - {d}" for d in shown)
        if len(self.details) > len(shown):
            lines.append(f"  ... and {len(self.details) - len(shown)} more")
        return "\n".join(lines)


class _Counter:
    def __init__(self) -> None:
        self.rows: list[Row] = []
        self.details: list[str] = []

    def compare(self, what: str, source: Mapping[Any, Any], target: Mapping[Any, Any]) -> None:
        """Keys of ``source`` missing from ``target`` or with another value are differences."""
        differences = 0
        for key, value in source.items():
            if key not in target:
                differences += 1
                self.details.append(f"{what}: {_name(key)} is missing in the target")
            elif target[key] != value:
                differences += 1
                self.details.append(
                    f"{what}: {_name(key)} is {target[key]!r} in the target, {value!r} at the source"
                )
        matched = sum(1 for key in source if key in target)
        self.rows.append(Row(what, len(source), matched, differences))

    def add(self, what: str, source: int, target: int, differences: int) -> None:
        self.rows.append(Row(what, source, target, differences))


def _name(key: object) -> str:
    if isinstance(key, tuple):
        return " ".join(str(k) for k in key)
    return str(key)


def compare(source: Inventory, target: Inventory) -> Comparison:
    c = _Counter()
    c.compare("experiments", source.experiments, target.experiments)
    c.compare("runs", source.runs, target.runs)
    c.compare("params", _flat(source.params), _flat(target.params))
    c.compare("tags", _flat(source.tags), _flat(target.tags))
    c.compare(
        "metric keys",
        dict.fromkeys(_flat(source.metrics), True),
        dict.fromkeys(_flat(target.metrics), True),
    )
    src_points = sum(sum(v.values()) for v in source.metrics.values())
    tgt_points = sum(
        n for run, keys in target.metrics.items() if run in source.metrics for n in keys.values()
    )
    point_diffs = sum(
        1
        for run, keys in source.metrics.items()
        for key, n in keys.items()
        if target.metrics.get(run, {}).get(key) != n
    )
    c.add("metric points", src_points, tgt_points, point_diffs)
    c.compare("artifact files", _flat(source.artifacts), _flat(target.artifacts))
    src_bytes = sum(sum(v.values()) for v in source.artifacts.values())
    tgt_bytes = sum(
        size
        for owner, files in target.artifacts.items()
        if owner in source.artifacts
        for path, size in files.items()
        if path in source.artifacts[owner]
    )
    c.add("artifact bytes", src_bytes, tgt_bytes, 0 if src_bytes == tgt_bytes else 1)
    c.compare("logged models", source.logged_models, target.logged_models)
    c.compare("registered models", source.registered_models, target.registered_models)
    c.compare("model versions", source.versions, target.versions)
    c.compare("aliases", source.aliases, target.aliases)
    return Comparison(c.rows, c.details)


def _flat(nested: Mapping[str, Mapping[str, Any]]) -> dict[tuple[str, str], Any]:
    return {
        (owner, key): value for owner, values in nested.items() for key, value in values.items()
    }
