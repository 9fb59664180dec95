"""``mltrail experiments`` on a fresh folder store."""

from __future__ import annotations

from pathlib import Path

from .conftest import Invoke, parse_json, run_module


def _names(invoke: Invoke, *args: str) -> dict[str, str]:
    listed = parse_json(invoke("experiments", "list", "--output", "json", *args))
    return {e["name"]: e["lifecycle_stage"] for e in listed}


def test_create_list_delete_restore(invoke: Invoke, store: str) -> None:
    created = invoke("experiments", "create", "churn")
    assert "Created experiment 'churn' with id" in created.stdout
    experiment_id = created.stdout.strip().rsplit(" ", 1)[-1]

    assert _names(invoke) == {"Default": "active", "churn": "active"}
    table = invoke("experiments", "list").stdout
    header, _rule, *rows = table.splitlines()
    assert header.split() == ["id", "name", "stage", "created", "artifact", "location"]
    assert any(row.split()[:3] == [experiment_id, "churn", "active"] for row in rows)
    # Artifacts of a folder store live inside the folder.
    assert Path(store).resolve().as_uri() in table

    assert "Deleted experiment 'churn'" in invoke("experiments", "delete", "churn").stdout
    assert _names(invoke) == {"Default": "active"}
    assert _names(invoke, "--view", "deleted") == {"churn": "deleted"}
    assert _names(invoke, "--view", "all") == {"Default": "active", "churn": "deleted"}

    # Restore by id, not name.
    assert "Restored experiment 'churn'" in invoke("experiments", "restore", experiment_id).stdout
    assert _names(invoke) == {"Default": "active", "churn": "active"}


def test_create_with_artifact_location(invoke: Invoke, tmp_path: Path) -> None:
    location = (tmp_path / "elsewhere").as_uri()
    created = parse_json(
        invoke("experiments", "create", "custom", "--artifact-location", location, "-o", "json")
    )
    assert created["name"] == "custom"
    assert created["artifact_location"] == location
    assert created["lifecycle_stage"] == "active"
    listed = parse_json(invoke("experiments", "list", "-o", "json"))
    assert {e["name"]: e["artifact_location"] for e in listed}["custom"] == location


def test_errors_are_one_clean_line(invoke: Invoke) -> None:
    invoke("experiments", "create", "twice")
    duplicate = invoke("experiments", "create", "twice", expect=None)
    assert duplicate.exit_code in (1, 2)
    assert duplicate.stderr.startswith("Error: ")
    assert "twice" in duplicate.stderr

    missing = invoke("experiments", "delete", "no-such-experiment", expect=1)
    assert missing.stderr == "Error: No experiment with name or id 'no-such-experiment'\n"
    assert missing.stdout == ""
    assert invoke("experiments", "restore", "424242", expect=1).stderr.startswith("Error: ")


def test_bad_tracking_uri_is_a_usage_error(tmp_path: Path) -> None:
    done = run_module(["--tracking-uri", "ftp://host/x", "experiments", "list"], cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("Error: Unsupported tracking URI 'ftp://host/x'")
    assert "Traceback" not in done.stderr


def test_default_store_is_the_mltrail_folder(tmp_path: Path) -> None:
    done = run_module(["experiments", "create", "here"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "mltrail" / "mltrail.db").is_file()
    listed = run_module(["experiments", "list", "-o", "json"], cwd=tmp_path)
    assert "here" in listed.stdout
