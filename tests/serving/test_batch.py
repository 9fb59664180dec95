"""``mltrail models predict``: csv, parquet and json files in chunks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import mltrail.pyfunc
from mltrail.cli.main import cli

from .conftest import clean_env, training_frame


def _write(frame: pd.DataFrame, path: Path) -> None:
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    elif path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    elif path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in frame.to_dict(orient="records")))
    else:
        path.write_text(json.dumps(frame.to_dict(orient="records"), indent=1))


def _read(path: Path) -> pd.DataFrame:
    if path.suffix == ".csv":
        return pd.read_csv(path)
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    if path.suffix == ".jsonl":
        return pd.read_json(path, lines=True, precise_float=True)
    return pd.DataFrame(json.loads(path.read_text()))


@pytest.mark.parametrize("source", ["csv", "parquet", "json", "jsonl"])
@pytest.mark.parametrize("target", ["csv", "parquet", "json", "jsonl"])
def test_every_format_in_and_out_in_chunks(
    tmp_path: Path, ridge_dir: Path, source: str, target: str
) -> None:
    frame = training_frame(1234, seed=5)[0]
    src, dst = tmp_path / f"in.{source}", tmp_path / f"out.{target}"
    _write(frame, src)
    result = CliRunner().invoke(
        cli,
        [
            "models",
            "predict",
            "-m",
            str(ridge_dir),
            "-i",
            str(src),
            "-o",
            str(dst),
            "--chunk-rows",
            "100",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "1234 rows" in result.stderr
    want = mltrail.pyfunc.load_model(ridge_dir).predict(frame)
    got = _read(dst)
    assert list(got.columns) == ["prediction"]
    assert got["prediction"].to_numpy() == pytest.approx(want, rel=1e-12)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_bad_input_fails_with_the_column_and_leaves_no_output(
    tmp_path: Path, ridge_dir: Path
) -> None:
    frame = training_frame(30)[0].drop(columns=["f3"])
    src, dst = tmp_path / "in.csv", tmp_path / "out.csv"
    frame.to_csv(src, index=False)
    result = CliRunner().invoke(
        cli, ["models", "predict", "-m", str(ridge_dir), "-i", str(src), "-o", str(dst)]
    )
    assert result.exit_code == 2 and "'f3'" in result.stderr
    assert list(tmp_path.iterdir()) == [src]
    bad = tmp_path / "in.json"
    bad.write_text('[{"f0": 1}, 5]')
    result = CliRunner().invoke(
        cli, ["models", "predict", "-m", str(ridge_dir), "-i", str(bad), "-o", str(dst)]
    )
    assert result.exit_code == 2 and "record" in result.stderr
    result = CliRunner().invoke(
        cli,
        ["models", "predict", "-m", str(ridge_dir), "-i", str(src), "-o", str(tmp_path / "o.xlsx")],
    )
    assert result.exit_code == 2 and "extension" in result.stderr


# VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss over an exec, so it would report
# the RSS of the forking pytest process (holding the test's frames) instead of this one's.
PEAK = """
import re, sys
from pathlib import Path
from mltrail.serving.batch import predict_file
from mltrail.serving.loading import load_served_model
served = load_served_model(sys.argv[1], client=None)
predict_file(served, Path(sys.argv[2]), Path(sys.argv[3]), chunk_rows=5000)
status = open("/proc/self/status").read()
print(int(re.search(r"VmHWM:\\s+(\\d+) kB", status).group(1)))
"""


def test_memory_stays_flat_in_the_input_size(tmp_path: Path, ridge_dir: Path) -> None:
    peaks = {}
    for rows in (20_000, 400_000):
        src = tmp_path / f"in-{rows}.csv"
        training_frame(rows, seed=rows)[0].to_csv(src, index=False)
        done = subprocess.run(
            [sys.executable, "-c", PEAK, str(ridge_dir), str(src), str(tmp_path / f"out-{rows}.csv")],
            capture_output=True, text=True, timeout=600, env=clean_env(),
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        peaks[rows] = int(done.stdout.split()[-1]) * 1024
    input_growth = (tmp_path / "in-400000.csv").stat().st_size - (
        tmp_path / "in-20000.csv"
    ).stat().st_size
    # 20x the rows (about 45 MB more CSV): the peak may not grow by more than a fifth of that.
    assert peaks[400_000] - peaks[20_000] < input_growth / 5, (peaks, input_growth)
