"""The fluent run lifecycle end to end against a fresh folder store."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

import mltrail
from mltrail.client import context
from mltrail.errors import InvalidParameterValue, InvalidState, ResourceDoesNotExist


def test_quickstart_flow(store_dir: Path) -> None:
    mltrail.set_experiment("churn")
    with mltrail.start_run() as run:
        mltrail.log_params({"C": 1.0, "solver": "lbfgs"})
        for step in range(5):
            mltrail.log_metric("rmse", 1.0 / (step + 1), step=step)
        mltrail.set_tag("team", "risk")
        assert mltrail.active_run() is run
    assert mltrail.active_run() is None
    stored = mltrail.get_run(run.info.run_id)
    assert stored.info.status == "FINISHED"
    assert stored.info.end_time is not None
    assert stored.data.params == {"C": "1.0", "solver": "lbfgs"}
    assert stored.data.metrics == {"rmse": pytest.approx(0.2)}
    assert stored.data.tags["team"] == "risk"
    experiment = mltrail.get_experiment_by_name("churn")
    assert experiment is not None
    assert stored.info.experiment_id == experiment.experiment_id
    assert (store_dir / "mltrail.db").is_file()
    assert stored.info.artifact_uri.startswith((store_dir / "artifacts").resolve().as_uri())


def test_system_tags_and_run_name(store_dir: Path) -> None:
    with mltrail.start_run(run_name="first", description="a note") as run:
        pass
    tags = mltrail.get_run(run.info.run_id).data.tags
    assert tags[context.RUN_NAME] == "first"
    assert tags[context.NOTE] == "a note"
    assert tags[context.USER] == context.current_user()
    assert tags[context.SOURCE_TYPE] == "LOCAL"
    assert context.SOURCE_NAME in tags
    assert mltrail.get_run(run.info.run_id).info.run_name == "first"


def test_generated_run_name_is_tagged(store_dir: Path) -> None:
    with mltrail.start_run() as run:
        pass
    stored = mltrail.get_run(run.info.run_id)
    assert stored.info.run_name
    assert stored.data.tags[context.RUN_NAME] == stored.info.run_name


def test_description_and_note_tag_conflict(store_dir: Path) -> None:
    with pytest.raises(InvalidParameterValue, match="Description is already set"):
        mltrail.start_run(description="x", tags={context.NOTE: "y"})
    assert mltrail.active_run() is None


def test_nested_runs_record_parent(store_dir: Path) -> None:
    with mltrail.start_run() as parent:
        with mltrail.start_run(nested=True) as child:
            assert mltrail.active_run() is child
            with mltrail.start_run(nested=True) as grandchild:
                pass
        assert mltrail.active_run() is parent
    child_tags = mltrail.get_run(child.info.run_id).data.tags
    grandchild_tags = mltrail.get_run(grandchild.info.run_id).data.tags
    assert child_tags[context.PARENT_RUN_ID] == parent.info.run_id
    assert grandchild_tags[context.PARENT_RUN_ID] == child.info.run_id
    assert context.PARENT_RUN_ID not in mltrail.get_run(parent.info.run_id).data.tags


def test_second_run_without_nested_is_refused(store_dir: Path) -> None:
    with mltrail.start_run() as run:
        with pytest.raises(
            InvalidState, match=f"Run with UUID {run.info.run_id} is already active"
        ):
            mltrail.start_run()
        assert mltrail.active_run() is run


def test_exception_marks_run_failed(store_dir: Path) -> None:
    with pytest.raises(RuntimeError, match="boom"), mltrail.start_run() as run:
        mltrail.log_metric("x", 1.0)
        raise RuntimeError("boom")
    stored = mltrail.get_run(run.info.run_id)
    assert stored.info.status == "FAILED"
    # What was logged before the failure is kept.
    assert stored.data.metrics == {"x": 1.0}
    assert mltrail.active_run() is None


def test_resume_by_run_id(store_dir: Path) -> None:
    with mltrail.start_run() as run:
        mltrail.log_metric("loss", 3.0, step=0)
    assert mltrail.get_run(run.info.run_id).info.status == "FINISHED"
    with mltrail.start_run(run_id=run.info.run_id, tags={"resumed": "yes"}) as again:
        assert again.info.run_id == run.info.run_id
        assert mltrail.get_run(run.info.run_id).info.status == "RUNNING"
        mltrail.log_metric("loss", 2.0, step=1)
    stored = mltrail.get_run(run.info.run_id)
    assert stored.info.status == "FINISHED"
    assert stored.data.tags["resumed"] == "yes"
    history = mltrail.TrackingClient().get_metric_history(run.info.run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(0, 3.0), (1, 2.0)]


def test_resume_deleted_run_is_refused(store_dir: Path) -> None:
    with mltrail.start_run() as run:
        pass
    mltrail.delete_run(run.info.run_id)
    with pytest.raises(InvalidState, match="deleted state"):
        mltrail.start_run(run_id=run.info.run_id)


def test_resume_missing_run(store_dir: Path) -> None:
    with pytest.raises(ResourceDoesNotExist):
        mltrail.start_run(run_id="0" * 32)


def test_end_run_status_and_last_active_run(store_dir: Path) -> None:
    assert mltrail.last_active_run() is None
    run = mltrail.start_run()
    mltrail.end_run("KILLED")
    last = mltrail.last_active_run()
    assert last is not None
    assert last.info.run_id == run.info.run_id
    assert last.info.status == "KILLED"
    mltrail.end_run()  # no active run: nothing to do


def test_logging_without_active_run_starts_one(store_dir: Path) -> None:
    mltrail.log_metric("m", 1.5)
    run = mltrail.active_run()
    assert run is not None
    mltrail.end_run()
    assert mltrail.get_run(run.info.run_id).data.metrics == {"m": 1.5}


def test_active_run_stack_is_per_thread(store_dir: Path) -> None:
    seen: list[object] = []
    with mltrail.start_run():

        def other() -> None:
            seen.append(mltrail.active_run())

        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
    assert seen == [None]


def test_set_experiment_by_name_creates_once(store_dir: Path) -> None:
    first = mltrail.set_experiment("exp")
    second = mltrail.set_experiment("exp")
    assert first.experiment_id == second.experiment_id
    with mltrail.start_run() as run:
        pass
    assert run.info.experiment_id == first.experiment_id


def test_set_experiment_by_missing_id(store_dir: Path) -> None:
    with pytest.raises(ResourceDoesNotExist, match="Experiment with ID '12345' does not exist"):
        mltrail.set_experiment(experiment_id="12345")


def test_set_experiment_needs_exactly_one_argument(store_dir: Path) -> None:
    with pytest.raises(InvalidParameterValue, match="exactly one"):
        mltrail.set_experiment()
    with pytest.raises(InvalidParameterValue, match="exactly one"):
        mltrail.set_experiment("a", "1")


def test_set_deleted_experiment_is_refused(store_dir: Path) -> None:
    experiment_id = mltrail.create_experiment("gone")
    mltrail.delete_experiment(experiment_id)
    with pytest.raises(InvalidState, match="Cannot set a deleted experiment 'gone'"):
        mltrail.set_experiment("gone")
    with pytest.raises(InvalidState, match="Cannot set a deleted experiment"):
        mltrail.set_experiment(experiment_id=experiment_id)


def test_default_experiment_is_zero(store_dir: Path) -> None:
    with mltrail.start_run() as run:
        pass
    assert run.info.experiment_id == "0"


def test_experiment_from_settings(store_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mltrail.client.fluent.state import reset_state

    monkeypatch.setenv("MLTRAIL_EXPERIMENT_NAME", "from-env")
    reset_state()
    mltrail.set_tracking_uri(str(store_dir))
    with mltrail.start_run() as run:
        pass
    experiment = mltrail.get_experiment(run.info.experiment_id)
    assert experiment.name == "from-env"


def test_changing_tracking_uri_forgets_experiment(store_dir: Path, tmp_path: Path) -> None:
    mltrail.set_experiment("only-in-first")
    mltrail.set_tracking_uri(str(tmp_path / "second"))
    with mltrail.start_run() as run:
        pass
    assert run.info.experiment_id == "0"
    assert (tmp_path / "second" / "mltrail.db").is_file()


def test_bad_tracking_uri_fails_at_set(store_dir: Path) -> None:
    from mltrail.errors import ConfigurationError

    with pytest.raises(ConfigurationError):
        mltrail.set_tracking_uri("ftp://nowhere/x")


def test_get_artifact_uri(store_dir: Path) -> None:
    with mltrail.start_run() as run:
        root = mltrail.get_artifact_uri()
        assert root == mltrail.get_run(run.info.run_id).info.artifact_uri
        assert mltrail.get_artifact_uri("model/MLmodel") == root + "/model/MLmodel"
        with pytest.raises(InvalidParameterValue):
            mltrail.get_artifact_uri("../escape")


def test_delete_tag_after_queued_set(store_dir: Path) -> None:
    with mltrail.start_run() as run:
        mltrail.set_tags({"a": 1, "b": 2})
        mltrail.delete_tag("a")
    assert "a" not in mltrail.get_run(run.info.run_id).data.tags
    assert mltrail.get_run(run.info.run_id).data.tags["b"] == "2"


def test_resume_in_other_experiment_is_refused(store_dir: Path) -> None:
    with mltrail.start_run() as run:
        pass
    mltrail.set_experiment("another")
    with pytest.raises(InvalidParameterValue, match="does not match"):
        mltrail.start_run(run_id=run.info.run_id)
    assert mltrail.active_run() is None


@pytest.mark.parametrize("synchronous", [True, False])
def test_calls_for_an_active_run_follow_its_backend(
    store_dir: Path, tmp_path: Path, synchronous: bool
) -> None:
    """A run started on one store keeps logging there after set_tracking_uri names another."""
    with mltrail.start_run() as run:
        mltrail.set_tracking_uri(tmp_path / "elsewhere")
        mltrail.log_metric("m", 1.0, step=0, synchronous=synchronous)
        mltrail.log_metrics({"a": 1.0, "b": 2.0}, step=1, synchronous=synchronous)
        mltrail.log_param("p", 1, synchronous=synchronous)
        mltrail.log_params({f"q{i}": i for i in range(150)}, synchronous=synchronous)
        mltrail.set_tag("t", "x", synchronous=synchronous)
        mltrail.set_tags({"u": "y"}, synchronous=synchronous)
    stored = mltrail.TrackingClient(str(store_dir)).get_run(run.info.run_id)
    assert stored.data.metrics == {"m": 1.0, "a": 1.0, "b": 2.0}
    assert stored.data.params["p"] == "1" and len(stored.data.params) == 151
    assert stored.data.tags["t"] == "x" and stored.data.tags["u"] == "y"
    assert not (tmp_path / "elsewhere").exists()


def test_a_changed_param_raises_at_the_call_that_changes_it(store_dir: Path) -> None:
    """Asynchronous mode too: the error points at the log_param line, not at end_run."""
    import traceback

    from mltrail.errors import ParamOverwrite

    mltrail.set_synchronous(False)
    with mltrail.start_run() as run:
        mltrail.log_param("lr", 0.1)
        mltrail.log_params({"lr": 0.1, "depth": 3})  # the same value again is fine
        with pytest.raises(ParamOverwrite, match="key='lr' was already logged") as raised:
            mltrail.log_param("lr", 0.2)  # the line the error must point at
        frames = traceback.extract_tb(raised.tb)
        assert frames[0].name == "test_a_changed_param_raises_at_the_call_that_changes_it"
        assert 'mltrail.log_param("lr", 0.2)' in (frames[0].line or "")
        with pytest.raises(ParamOverwrite):
            mltrail.log_params({"depth": 4, "new": 1})
    assert mltrail.get_run(run.info.run_id).data.params == {"lr": "0.1", "depth": "3"}
    # A resumed run knows the params it already has.
    with mltrail.start_run(run_id=run.info.run_id), pytest.raises(ParamOverwrite):
        mltrail.log_param("depth", 5)
