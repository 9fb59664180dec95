"""The system tags a run gets when it starts: who, from which source, at which git commit.

They follow MLflow's names (``mlflow.user``, ``mlflow.source.name``, ``mlflow.source.type``,
``mlflow.source.git.commit``) so that tools reading MLflow runs understand them. The git
commit is read from the repository's files; git itself is not run.
"""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path

USER = "mlflow.user"
SOURCE_NAME = "mlflow.source.name"
SOURCE_TYPE = "mlflow.source.type"
GIT_COMMIT = "mlflow.source.git.commit"
RUN_NAME = "mlflow.runName"
PARENT_RUN_ID = "mlflow.parentRunId"
NOTE = "mlflow.note.content"


def current_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        # No user name in the environment nor in the password database (some containers).
        return "unknown"


def in_notebook() -> bool:
    ipython = sys.modules.get("IPython")
    if ipython is None or "ipykernel" not in sys.modules:
        return False
    shell = ipython.get_ipython()
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def source_name() -> str:
    script = sys.argv[0] if sys.argv else ""
    if script and os.path.isfile(script):
        return str(Path(script).resolve())
    return script or "<console>"


def system_tags() -> dict[str, str]:
    tags = {
        USER: current_user(),
        SOURCE_NAME: source_name(),
        SOURCE_TYPE: "NOTEBOOK" if in_notebook() else "LOCAL",
    }
    script = sys.argv[0] if sys.argv else ""
    start = Path(script).resolve().parent if script and os.path.exists(script) else Path.cwd()
    commit = git_commit(start)
    if commit:
        tags[GIT_COMMIT] = commit
    return tags


def git_commit(start: Path) -> str | None:
    """The commit checked out in the repository containing ``start``, or None."""
    git_dir = _find_git_dir(start)
    if git_dir is None:
        return None
    try:
        head = (git_dir / "HEAD").read_text(encoding="utf-8").strip()
    except OSError:
        return None
    if not head.startswith("ref:"):
        return head if _is_sha(head) else None
    return _resolve_ref(git_dir, head[4:].strip())


def _find_git_dir(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        candidate = folder / ".git"
        if candidate.is_dir():
            return candidate
        if candidate.is_file():
            # Worktrees and submodules: ".git" is a file "gitdir: <path>".
            try:
                text = candidate.read_text(encoding="utf-8").strip()
            except OSError:
                return None
            if text.startswith("gitdir:"):
                target = Path(text[7:].strip())
                return target if target.is_absolute() else (folder / target).resolve()
            return None
    return None


def _resolve_ref(git_dir: Path, ref: str) -> str | None:
    # A worktree keeps HEAD locally but shares refs with the main repository.
    common = git_dir
    commondir = git_dir / "commondir"
    if commondir.is_file():
        try:
            common = (git_dir / commondir.read_text(encoding="utf-8").strip()).resolve()
        except OSError:
            return None
    for base in (git_dir, common):
        ref_file = base / ref
        if ref_file.is_file():
            try:
                value = ref_file.read_text(encoding="utf-8").strip()
            except OSError:
                return None
            return value if _is_sha(value) else None
    packed = common / "packed-refs"
    if packed.is_file():
        try:
            lines = packed.read_text(encoding="utf-8").splitlines()
        except OSError:
            return None
        for line in lines:
            parts = line.split()
            if len(parts) == 2 and parts[1] == ref and _is_sha(parts[0]):
                return parts[0]
    return None


def _is_sha(text: str) -> bool:
    return len(text) in (40, 64) and all(c in "0123456789abcdef" for c in text.lower())
