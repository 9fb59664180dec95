"""The import's map of what it has taken: a JSON file per (source, target) pair.

It maps source experiment ids to target ids and registered-model names to target names
(both may differ: ids are the target's own, names may be renamed on conflict), and keeps a
fingerprint of every run, logged model and registered model as last imported, so that a
re-run imports only what is new or changed. It is saved after every committed batch
(written to a temporary file and renamed), so an import killed halfway resumes from the
last batch. The map is a shortcut, not the truth: the import still checks the target for
what it skips, so a lost or stale state file costs time, never data.

Where: beside the target's database file for a folder or SQLite target (it moves and is
deleted with the data it describes), else in ``~/.mltrail/imports``; ``--state FILE``
chooses.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mltrail.transfer.errors import CorruptSnapshot

FORMAT = 1


@dataclass
class ImportState:
    path: Path | None
    source: str
    target: str
    experiments: dict[str, str] = field(default_factory=dict)
    experiment_names: dict[str, str] = field(default_factory=dict)
    runs: dict[str, str] = field(default_factory=dict)
    logged_models: dict[str, str] = field(default_factory=dict)
    registered_models: dict[str, str] = field(default_factory=dict)
    registered_fingerprints: dict[str, str] = field(default_factory=dict)
    # usernames this import created (``--auth-db``)
    users: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path | None, *, source: str, target: str) -> ImportState:
        state = cls(path=path, source=source, target=target)
        if path is None or not path.is_file():
            return state
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CorruptSnapshot(
                f"The import state file {path} is unreadable ({exc}); move it away to start over"
            ) from exc
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            raise CorruptSnapshot(f"{path} is not an mltrail import state file")
        for name in (
            "experiments",
            "experiment_names",
            "runs",
            "logged_models",
            "registered_models",
            "registered_fingerprints",
            "users",
        ):
            value = raw.get(name, {})
            if isinstance(value, dict):
                setattr(state, name, {str(k): str(v) for k, v in value.items()})
        return state

    def save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        body: dict[str, Any] = {
            "format": FORMAT,
            "source": self.source,
            "target": self.target,
            "experiments": self.experiments,
            "experiment_names": self.experiment_names,
            "runs": self.runs,
            "logged_models": self.logged_models,
            "registered_models": self.registered_models,
            "registered_fingerprints": self.registered_fingerprints,
            "users": self.users,
        }
        tmp = self.path.with_name(f".{self.path.name}.tmp-{os.getpid()}")
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(body, fh, separators=(",", ":"))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)


def default_state_path(*, source: str, target: str, target_db_file: Path | None) -> Path:
    """Beside a local target database (named after the source alone, so that the folder can
    be moved), else under ``~/.mltrail/imports`` (named after both)."""
    if target_db_file is not None:
        key = hashlib.sha1(source.encode()).hexdigest()[:16]
        return target_db_file.parent / f"mltrail-import-{key}.json"
    key = hashlib.sha1(f"{source}\n{target}".encode()).hexdigest()[:16]
    return Path.home() / ".mltrail" / "imports" / f"{key}.json"
