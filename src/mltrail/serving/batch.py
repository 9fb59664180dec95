"""``mltrail models predict``: a file through the model in chunks, memory flat in its size.

Inputs: CSV, Parquet (pyarrow, the ``serving`` extra) and JSON (a list of records or JSON
Lines, read incrementally). Each chunk is checked against the signature as a request to the
scoring server is, predicted, and appended to the output (CSV, Parquet, ``.json``: a list of
records, ``.jsonl``: one record per line), which is written under a temporary name and renamed
when complete, so that a failure leaves no half-written file behind.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import IO, Any, TextIO

import numpy as np
import orjson
import pandas as pd

from mltrail.errors import ConfigurationError, InvalidParameterValue
from mltrail.serving.inputs import frame_input
from mltrail.serving.loading import ServedModel

DEFAULT_CHUNK_ROWS = 10_000
_READ_BYTES = 1 << 20
FORMATS = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".json": "json",
    ".jsonl": "jsonl",
}
Progress = Callable[[int], None]


@dataclass(frozen=True)
class BatchResult:
    rows: int
    chunks: int


def file_format(path: Path, *, role: str) -> str:
    found = FORMATS.get(path.suffix.lower())
    if found is None:
        raise InvalidParameterValue(
            f"Cannot tell the format of {role} file {str(path)!r} from its extension; "
            f"use one of {', '.join(sorted(FORMATS))}"
        )
    return found


def _pyarrow_parquet() -> ModuleType:
    try:
        return importlib.import_module("pyarrow.parquet")
    except ImportError as exc:
        raise ConfigurationError(
            "Parquet files need pyarrow: pip install 'mltrail[serving]'"
        ) from exc


# -- readers ----------------------------------------------------------------------------


def read_chunks(
    path: Path, fmt: str, *, chunk_rows: int, progress: Progress
) -> Iterator[pd.DataFrame]:
    if fmt == "csv":
        yield from _csv_chunks(path, chunk_rows, progress)
    elif fmt == "parquet":
        yield from _parquet_chunks(path, chunk_rows, progress)
    else:
        yield from _json_chunks(path, chunk_rows, progress)


def _csv_chunks(path: Path, chunk_rows: int, progress: Progress) -> Iterator[pd.DataFrame]:
    with open(path, "rb") as fh:
        done = 0
        try:
            for chunk in pd.read_csv(fh, chunksize=chunk_rows):
                position = fh.tell()
                progress(position - done)
                done = position
                yield chunk
        except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
            first = (str(exc).strip().splitlines() or [""])[0]
            raise InvalidParameterValue(f"Malformed CSV in {str(path)!r}: {first}") from exc


def _parquet_chunks(path: Path, chunk_rows: int, progress: Progress) -> Iterator[pd.DataFrame]:
    pq = _pyarrow_parquet()
    try:
        parquet = pq.ParquetFile(path)
    except Exception as exc:
        raise InvalidParameterValue(f"Not a Parquet file: {str(path)!r} ({exc})") from exc
    total_rows = max(parquet.metadata.num_rows, 1)
    size = path.stat().st_size
    for batch in parquet.iter_batches(batch_size=chunk_rows):
        progress(int(size * batch.num_rows / total_rows))
        yield batch.to_pandas()


def _json_chunks(path: Path, chunk_rows: int, progress: Progress) -> Iterator[pd.DataFrame]:
    records: list[dict[str, Any]] = []
    for record in iter_json_records(path, progress):
        records.append(record)
        if len(records) >= chunk_rows:
            yield pd.DataFrame(records)
            records = []
    if records:
        yield pd.DataFrame(records)


def iter_json_records(path: Path, progress: Progress) -> Iterator[dict[str, Any]]:
    """The objects of a JSON list of records, or of JSON Lines, read a block at a time."""
    decoder = json.JSONDecoder()
    with open(path, encoding="utf-8") as fh:
        buf, pos, eof, opened = "", 0, False, False
        while True:
            while pos < len(buf) and buf[pos] in " \t\r\n,":
                pos += 1
            if pos < len(buf) and buf[pos] == "[" and not opened:
                opened, pos = True, pos + 1
                continue
            if pos < len(buf) and buf[pos] == "]" and opened:
                return
            if pos >= len(buf) and eof:
                return
            try:
                if pos >= len(buf):
                    raise json.JSONDecodeError("need more", buf, pos)
                value, end = decoder.raw_decode(buf, pos)
            except json.JSONDecodeError as exc:
                if eof:
                    raise InvalidParameterValue(
                        f"Malformed JSON in {str(path)!r}: {exc.msg} (a list of records or "
                        "JSON Lines is expected)"
                    ) from exc
                block = fh.read(_READ_BYTES)
                progress(len(block.encode("utf-8")))
                eof = not block
                buf, pos = buf[pos:] + block, 0
                continue
            if not isinstance(value, dict):
                raise InvalidParameterValue(
                    f"{str(path)!r} holds a {type(value).__name__} where a record (a JSON "
                    "object) is expected: use a list of records or JSON Lines"
                )
            pos = end
            yield value


# -- writers ----------------------------------------------------------------------------


def prediction_frame(predictions: Any) -> pd.DataFrame:
    if isinstance(predictions, pd.DataFrame):
        return predictions.reset_index(drop=True)
    if isinstance(predictions, pd.Series):
        return predictions.to_frame(name=predictions.name or "prediction").reset_index(drop=True)
    array = np.asarray(predictions)
    if array.ndim == 1:
        return pd.DataFrame({"prediction": array})
    if array.ndim == 2:
        return pd.DataFrame({f"prediction_{i}": array[:, i] for i in range(array.shape[1])})
    return pd.DataFrame({"prediction": list(array)})


class _Writer:
    def __init__(self, path: Path, fmt: str) -> None:
        self.fmt = fmt
        self._first = True
        self._parquet: Any = None
        self._fh: IO[Any] = open(path, "wb")  # noqa: SIM115 - closed by close()

    def write(self, frame: pd.DataFrame) -> None:
        if frame.empty and self.fmt in ("json", "jsonl"):
            return
        if self.fmt == "csv":
            frame.to_csv(self._fh, header=self._first, index=False)
        elif self.fmt == "parquet":
            import pyarrow as pa

            table = pa.Table.from_pandas(frame, preserve_index=False)
            if self._parquet is None:
                self._parquet = _pyarrow_parquet().ParquetWriter(self._fh, table.schema)
            self._parquet.write_table(table)
        else:
            rows = frame.to_dict(orient="records")
            parts = [
                orjson.dumps(r, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)
                for r in rows
            ]
            if self.fmt == "jsonl":
                self._fh.write(b"".join(p + b"\n" for p in parts))
            else:
                self._fh.write((b"[\n" if self._first else b",\n") + b",\n".join(parts))
        self._first = False

    def close(self) -> None:
        if self.fmt == "json":
            self._fh.write(b"[]\n" if self._first else b"\n]\n")
        if self._parquet is not None:
            self._parquet.close()
        self._fh.close()

    def abort(self) -> None:
        try:
            if self._parquet is not None:
                self._parquet.close()
        finally:
            self._fh.close()


# -- the whole file ---------------------------------------------------------------------


def predict_file(
    served: ServedModel,
    input_path: Path,
    output_path: Path,
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    stream: TextIO | None = None,
) -> BatchResult:
    from mltrail.artifacts.progress import open_bar, wanted

    if chunk_rows < 1:
        raise InvalidParameterValue(f"--chunk-rows must be at least 1 (got {chunk_rows})")
    if not input_path.is_file():
        raise InvalidParameterValue(f"Input file {str(input_path)!r} does not exist")
    in_fmt = file_format(input_path, role="input")
    out_fmt = file_format(output_path, role="output")
    if in_fmt == "jsonl":
        in_fmt = "json"
    out = sys.stderr if stream is None else stream
    size = input_path.stat().st_size
    bar = (
        open_bar(f"predict {input_path.name}", total=size, stream=out)
        if wanted(size, stream=out)
        else None
    )
    progress: Progress = bar.update if bar is not None else (lambda _n: None)
    partial = output_path.with_name(f".{output_path.name}.part-{os.getpid()}")
    writer = _Writer(partial, out_fmt)
    rows = chunks = 0
    model = served.model
    try:
        for chunk in read_chunks(input_path, in_fmt, chunk_rows=chunk_rows, progress=progress):
            data = frame_input(chunk, model.signature)
            writer.write(prediction_frame(model.predict_prepared(data)))
            rows += len(chunk)
            chunks += 1
        writer.close()
        os.replace(partial, output_path)
    except BaseException:
        writer.abort()
        partial.unlink(missing_ok=True)
        raise
    finally:
        if bar is not None:
            bar.close()
    return BatchResult(rows=rows, chunks=chunks)
