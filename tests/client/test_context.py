"""System tags: the git commit read from the repository's files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from mltrail.client.context import git_commit

SHA = "0123456789abcdef0123456789abcdef01234567"
OTHER = "fedcba9876543210fedcba9876543210fedcba98"


def _repo(root: Path, head: str) -> Path:
    (root / ".git" / "refs" / "heads").mkdir(parents=True)
    (root / ".git" / "HEAD").write_text(head + "\n")
    return root


def test_branch_ref(tmp_path: Path) -> None:
    repo = _repo(tmp_path, "ref: refs/heads/main")
    (repo / ".git" / "refs" / "heads" / "main").write_text(SHA + "\n")
    (repo / "src" / "pkg").mkdir(parents=True)
    assert git_commit(repo / "src" / "pkg") == SHA


def test_packed_ref(tmp_path: Path) -> None:
    repo = _repo(tmp_path, "ref: refs/heads/dev")
    (repo / ".git" / "packed-refs").write_text(
        f"# pack-refs with: peeled fully-peeled sorted\n{OTHER} refs/heads/main\n{SHA} refs/heads/dev\n"
    )
    assert git_commit(repo) == SHA


def test_detached_head(tmp_path: Path) -> None:
    repo = _repo(tmp_path, OTHER)
    assert git_commit(repo) == OTHER


def test_worktree_gitdir_file(tmp_path: Path) -> None:
    main = _repo(tmp_path / "main", "ref: refs/heads/main")
    (main / ".git" / "refs" / "heads" / "feature").write_text(SHA)
    wt_git = main / ".git" / "worktrees" / "wt"
    wt_git.mkdir(parents=True)
    (wt_git / "HEAD").write_text("ref: refs/heads/feature\n")
    (wt_git / "commondir").write_text("../..\n")
    worktree = tmp_path / "wt"
    worktree.mkdir()
    (worktree / ".git").write_text(f"gitdir: {wt_git}\n")
    assert git_commit(worktree) == SHA


def test_no_repository(tmp_path: Path) -> None:
    assert git_commit(tmp_path) is None


def test_script_in_repo_gets_commit_tag(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "proj", "ref: refs/heads/main")
    (repo / ".git" / "refs" / "heads" / "main").write_text(SHA)
    script = repo / "train.py"
    script.write_text(
        "import mltrail\n"
        f"mltrail.set_tracking_uri({str(tmp_path / 'store')!r})\n"
        "with mltrail.start_run() as run:\n"
        "    pass\n"
        "tags = mltrail.get_run(run.info.run_id).data.tags\n"
        "print(tags['mlflow.source.git.commit'], tags['mlflow.source.name'], "
        "tags['mlflow.source.type'])\n"
    )
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, check=True, cwd=tmp_path
    ).stdout.split()
    assert out == [SHA, str(script.resolve()), "LOCAL"]


def test_run_left_open_is_ended_at_exit(tmp_path: Path) -> None:
    store = tmp_path / "store"
    code = (
        "import mltrail\n"
        f"mltrail.set_tracking_uri({str(store)!r})\n"
        "run = mltrail.start_run()\n"
        "mltrail.log_metric('m', 2.0)\n"
        "print(run.info.run_id)\n"
    )
    run_id = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path
    ).stdout.strip()
    failing = code + "raise SystemExit(__import__('sys').exit(1/0))\n"
    failed = subprocess.run(
        [sys.executable, "-c", failing], capture_output=True, text=True, cwd=tmp_path
    )
    assert failed.returncode != 0
    failed_id = failed.stdout.strip()
    check = (
        "import mltrail\n"
        f"mltrail.set_tracking_uri({str(store)!r})\n"
        f"r = mltrail.get_run({run_id!r})\n"
        f"f = mltrail.get_run({failed_id!r})\n"
        "print(r.info.status, r.data.metrics['m'], f.info.status, f.data.metrics['m'])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", check], capture_output=True, text=True, check=True, cwd=tmp_path
    ).stdout.split()
    assert out == ["FINISHED", "2.0", "FAILED", "2.0"]
