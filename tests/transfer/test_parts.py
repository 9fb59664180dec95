"""The pieces of the import on their own: point differences, location rewriting, MLflow's
metric files, the state file, Werkzeug password hashes, logged-model ids kept on create."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
import pytest

from mltrail.errors import InvalidParameterValue
from mltrail.service.auth import PasswordHashing
from mltrail.service.werkzeug_hashes import verify_werkzeug
from mltrail.store.sql.metrics import Series, sorted_series
from mltrail.transfer.engine import missing_points
from mltrail.transfer.errors import CorruptSnapshot
from mltrail.transfer.registry import Relocations
from mltrail.transfer.sources.mlflow_files import parse_metric_lines
from mltrail.transfer.state import ImportState, default_state_path


def _series(points: list[tuple[int, int, float]]) -> Series:
    steps, stamps, values = zip(*points, strict=True) if points else ((), (), ())
    return sorted_series(
        np.array(steps, dtype=np.int64),
        np.array(stamps, dtype=np.int64),
        np.array(values, dtype=np.float64),
    )


def test_missing_points_is_a_multiset_difference() -> None:
    source = _series([(0, 1, 1.0), (0, 1, 1.0), (1, 2, math.nan), (2, 3, 2.0), (3, 4, math.inf)])
    stored = _series([(0, 1, 1.0), (1, 2, math.nan), (9, 9, 9.0)])
    missing = missing_points(source, stored)
    assert missing.steps.tolist() == [0, 2, 3]
    assert missing.values.tolist() == [1.0, 2.0, math.inf]
    assert len(missing_points(source, source)) == 0
    assert missing_points(source, _series([])) is source


def test_relocations_rewrite_uris_below_a_moved_location() -> None:
    moves = Relocations()
    moves.add("/data/mlruns/1/abc/artifacts", "file:///new/artifacts/7/abc/artifacts")
    moves.add(
        "file:///data/mlruns/1/models/m-1/artifacts", "mlflow-artifacts:/7/models/m-1/artifacts"
    )
    assert moves.rewrite("/data/mlruns/1/abc/artifacts/model/MLmodel") == (
        "file:///new/artifacts/7/abc/artifacts/model/MLmodel"
    )
    assert moves.rewrite("/data/mlruns/1/models/m-1/artifacts") == (
        "mlflow-artifacts:/7/models/m-1/artifacts"
    )
    assert moves.rewrite("models:/m-1") == "models:/m-1"
    assert moves.rewrite("runs:/abc/model") == "runs:/abc/model"
    assert moves.rewrite("s3://elsewhere/x") == "s3://elsewhere/x"
    assert moves.find("/data/mlruns/1/abcd/artifacts") is None


def test_mlflow_metric_files() -> None:
    stamps, values, steps, extra = parse_metric_lines("10 1.5 0\n11 nan 1\n12 -inf 2\n")
    assert stamps.tolist() == [10, 11, 12] and steps.tolist() == [0, 1, 2]
    assert math.isnan(values[1]) and values[2] == -math.inf and extra == []
    # Logged-model metric files carry the run id (and a dataset) after the step.
    stamps, values, steps, extra = parse_metric_lines("10 0.5 0 run1\n11 0.25 3 run1 ds abc\n")
    assert steps.tolist() == [0, 3] and extra == [["run1"], ["run1", "ds", "abc"]]
    # Very old MLflow files have no step column.
    _, _, steps, _ = parse_metric_lines("10 1.0\n")
    assert steps.tolist() == [0]


def test_the_state_file_round_trips_and_refuses_garbage(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    state = ImportState.load(path, source="s", target="t")
    state.experiments["1"] = "5"
    state.runs["abc"] = "fp"
    state.save()
    again = ImportState.load(path, source="s", target="t")
    assert again.experiments == {"1": "5"} and again.runs == {"abc": "fp"}
    path.write_text("{not json")
    with pytest.raises(CorruptSnapshot, match=r"state\.json is unreadable"):
        ImportState.load(path, source="s", target="t")
    beside = default_state_path(source="s", target="x", target_db_file=tmp_path / "mltrail.db")
    assert beside.parent == tmp_path
    assert beside == default_state_path(source="s", target="y", target_db_file=tmp_path / "m.db")


def test_werkzeug_hashes_as_mlflow_writes_them() -> None:
    salt = "5oxoFwQqmxR3zLXl"
    derived = hashlib.scrypt(
        b"alice-password-1", salt=salt.encode(), n=32768, r=8, p=1, maxmem=2**26
    )
    scrypt = f"scrypt:32768:8:1${salt}${derived.hex()}"
    assert verify_werkzeug(scrypt, "alice-password-1")
    assert not verify_werkzeug(scrypt, "alice-password-2")
    pbkdf2 = (
        "pbkdf2:sha256:1000$salty$"
        + hashlib.pbkdf2_hmac("sha256", b"pw-123456789", b"salty", 1000).hex()
    )
    hashing = PasswordHashing()
    assert hashing.verify(pbkdf2, "pw-123456789") and not hashing.verify(pbkdf2, "nope")
    assert hashing.needs_rehash(pbkdf2)
    assert not hashing.verify("scrypt:bad$x$y", "x")


def test_a_logged_model_keeps_a_given_id_and_refuses_a_malformed_one(tmp_path: Path) -> None:
    from mltrail.client.local import open_local_models
    from mltrail.uris import parse_tracking_uri

    models = open_local_models(parse_tracking_uri(str(tmp_path / "store")))
    model_id = "m-" + "ab" * 16
    kept = models.logged_models.create_logged_model("0", name="m", model_id=model_id)  # type: ignore[attr-defined]
    assert kept.model_id == model_id
    with pytest.raises(InvalidParameterValue, match="Invalid logged model id"):
        models.logged_models.create_logged_model("0", model_id="m-../../x")  # type: ignore[attr-defined]


def test_progress_draws_three_bars_on_a_terminal_only() -> None:
    import io

    from mltrail.transfer.progress import Progress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    progress = Progress(stream=screen)
    progress.runs_total, progress.points_total, progress.bytes_total = 10, 1_000_000, 4 << 20
    progress.add(runs=5, points=500_000, nbytes=1 << 20)
    progress.close()
    lines = [part.strip() for part in screen.getvalue().replace("\x1b[A", "").split("\r")]
    last = [line for line in lines if line][-3:]
    assert last[0].startswith("runs:  50%") and "5/10" in last[0]
    assert last[1].startswith("points:  50%") and "500k/1.00M" in last[1]
    assert last[2].startswith("artifacts:  25%") and "1.00M/4.00M" in last[2]
    piped = io.StringIO()
    quiet = Progress(stream=piped)
    quiet.add(runs=1)
    quiet.close()
    assert piped.getvalue() == ""


def test_bulk_summaries_follow_the_per_series_rule() -> None:
    """The latest value (step, then timestamp, then value; NaN lowest), min, max and count."""
    import random

    from mltrail.store.sql.bulk import summaries_of
    from mltrail.store.sql.metrics import _Summary

    rng = random.Random(3)
    series = []
    for _ in range(2000):
        n = rng.randint(1, 8)
        series.append(
            sorted_series(
                np.array([rng.randint(0, 3) for _ in range(n)], dtype=np.int64),
                np.array([rng.randint(0, 2) for _ in range(n)], dtype=np.int64),
                np.array(
                    [rng.choice([math.nan, math.inf, -math.inf, 1.0, -3.5]) for _ in range(n)]
                ),
            )
        )
    bulk = [s.columns() for s in summaries_of(series)]
    one_by_one = [_Summary.of_series(s).columns() for s in series]
    assert [{k: repr(v) for k, v in c.items()} for c in bulk] == [
        {k: repr(v) for k, v in c.items()} for c in one_by_one
    ]


def test_prefetched_items_keep_their_order_and_errors() -> None:
    from collections.abc import Iterator

    from mltrail.transfer.engine import prefetched

    assert list(prefetched(iter(range(1000)), depth=3)) == list(range(1000))

    def failing() -> Iterator[int]:
        yield 1
        yield 2
        raise OSError("disk gone")

    seen = []
    with pytest.raises(OSError, match="disk gone"):
        for item in prefetched(failing()):
            seen.append(item)
    assert seen == [1, 2]
    early = prefetched(iter(range(10_000)), depth=2)
    assert next(early) == 0
    early.close()  # the producer stops; nothing hangs
