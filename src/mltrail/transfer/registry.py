"""Importing registered models: versions keep their numbers, sources follow the artifacts.

A version's ``source`` and ``storage_location`` that point into an imported run's or
logged model's artifacts are rewritten to where those artifacts now are; ``models:/`` and
``runs:/`` sources stay as they are (run and model ids do not change). With
``--experiment``, only versions of the imported runs and models come along.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlparse

from mltrail.model_entities import ModelVersion
from mltrail.transfer.plan import RegisteredPlan

if TYPE_CHECKING:
    from mltrail.transfer.engine import Importer

_KEEP = ("models:/", "runs:/")


def _normal(uri: str) -> str:
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return unquote(parsed.path).rstrip("/")
    return uri.rstrip("/")


class Relocations:
    """Source artifact locations -> where the import put them; rewrites URIs below them."""

    def __init__(self) -> None:
        self._moves: dict[str, str] = {}

    def add(self, source: str, target: str) -> None:
        if source:
            self._moves[_normal(source)] = target.rstrip("/")

    def find(self, uri: str) -> str | None:
        """``uri`` rewritten below the location it lies in, or None if it lies in none."""
        if not uri or uri.startswith(_KEEP):
            return None
        path = _normal(uri)
        rest: list[str] = []
        while path:
            moved = self._moves.get(path)
            if moved is not None:
                return "/".join([moved, *reversed(rest)])
            head, sep, tail = path.rpartition("/")
            if not sep:
                return None
            rest.append(tail)
            path = head
        return None

    def rewrite(self, uri: str) -> str:
        found = self.find(uri)
        return uri if found is None else found


class RegistryImport:
    def __init__(self, importer: Importer) -> None:
        self.importer = importer

    def run(self, plans: list[RegisteredPlan]) -> None:
        imp = self.importer
        filtered = bool(imp.options.experiments)
        runs, models = imp.imported_runs(), imp.imported_models()
        for plan in plans:
            if plan.skip:
                continue
            record = plan.record
            versions = [
                v
                for v in record.versions
                if not filtered or v.run_id in runs or (v.model_id or "") in models
            ]
            if filtered and not versions:
                continue
            moved_versions = tuple(self._move(v, plan.name) for v in versions)
            numbers = {v.version for v in versions}
            moved = replace(
                record,
                name=plan.name,
                versions=moved_versions,
                aliases={a: n for a, n in record.aliases.items() if n in numbers},
            )
            fingerprint = moved.fingerprint()
            if not plan.mapped or imp.state.registered_fingerprints.get(record.name) != fingerprint:
                imp.target.write_registered_model(moved)
                imp.report.counts["registered models"] += 1
                imp.report.counts["model versions"] += len(moved_versions)
            imp.state.registered_models[record.name] = plan.name
            imp.state.registered_fingerprints[record.name] = fingerprint
            imp.state.save()
            inv = imp.registry_inventory
            inv.registered_models[plan.name] = record.description or ""
            for v in moved_versions:
                inv.versions[(plan.name, v.version)] = (v.current_stage, v.run_id or "")
            for alias, number in moved.aliases.items():
                inv.aliases[(plan.name, alias)] = number

    def _storage(self, version: ModelVersion) -> str:
        """Where the version's files are at the source (a REST source only gives its source)."""
        storage = version.storage_location or version.source
        imp = self.importer
        if storage.startswith("models:/"):
            model_id = storage[len("models:/") :].strip("/")
            return imp.model_sources.get(model_id, storage)
        if storage.startswith("runs:/"):
            run_id, _, path = storage[len("runs:/") :].partition("/")
            run = imp.run_record(run_id)
            if run is not None and run.artifact_uri:
                return f"{run.artifact_uri.rstrip('/')}/{path}".rstrip("/")
        return storage

    def _move(self, version: ModelVersion, name: str) -> ModelVersion:
        reloc = self.importer.relocations
        storage = self._storage(version)
        if (
            self.importer.options.artifacts == "copy"
            and reloc.find(storage) is None
            and not storage.startswith(_KEEP)
            and not self._exists(storage)
        ):
            self.importer.report.problems.append(
                f"registered model {version.name!r} version {version.version}: its files are "
                f"missing at the source ({storage})"
            )
        return replace(
            version,
            name=name,
            source=reloc.rewrite(version.source),
            storage_location=reloc.rewrite(storage),
        )

    def _exists(self, location: str) -> bool:
        try:
            return self.importer.source.location_exists(location)
        except Exception:
            return False
