"""What the artifact browser shows for a file: text, JSON, YAML, CSV as a table, an image, or
the model folder's MLmodel with its signature. Nothing is ever rendered as markup: HTML and SVG
files are shown as text, and raw downloads carry a sandboxing CSP.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import PurePosixPath
from typing import Any

from mltrail.server.artifact_access import RunArtifacts
from mltrail.server.ui.models_data import model_summary

PREVIEW_BYTES = 512 * 1024
CSV_ROWS = 200
CSV_COLUMNS = 100
IMAGE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".bmp": "image/bmp",
}
TEXT_SUFFIXES = {
    ".txt", ".log", ".md", ".py", ".html", ".htm", ".svg", ".xml", ".ini", ".cfg", ".toml",
    ".sh", ".js", ".css", ".sql", ".r", ".ipynb", ".tsv", ".rst", ".env", ".conf", ".jsonl",
}  # fmt: skip
TEXT_NAMES = {"MLmodel", "requirements.txt", "conda.yaml", "python_env.yaml", "README", "LICENSE"}


def preview(artifacts: RunArtifacts, path: str) -> dict[str, Any]:
    """A JSON-able description of how to show ``path``."""
    if artifacts.is_dir(path):
        return _folder(artifacts, path)
    name = PurePosixPath(path).name
    suffix = PurePosixPath(path).suffix.lower()
    size = artifacts.size(path)
    result: dict[str, Any] = {"path": path, "size": size}
    if suffix in IMAGE_TYPES:
        return {**result, "kind": "image"}
    data = artifacts.read(path, limit=PREVIEW_BYTES)
    truncated = size > len(data)
    result["truncated"] = truncated
    text = _decode(data)
    if text is None:
        return {**result, "kind": "binary"}
    if suffix == ".json" and not truncated:
        try:
            return {**result, "kind": "json", "text": json.dumps(json.loads(text), indent=2)}
        except ValueError:
            return {**result, "kind": "text", "text": text, "note": "Not valid JSON"}
    if suffix in (".yaml", ".yml") or name == "MLmodel":
        return {**result, "kind": "yaml", "text": text}
    if suffix in (".csv", ".tsv"):
        return {**result, **_table(text, delimiter="\t" if suffix == ".tsv" else ",")}
    if suffix in TEXT_SUFFIXES or name in TEXT_NAMES or suffix == "":
        return {**result, "kind": "text", "text": text}
    return {**result, "kind": "text", "text": text}


def _decode(data: bytes) -> str | None:
    if b"\x00" in data[:8192]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut by the preview limit is not a binary file.
        if exc.start >= len(data) - 4:
            return data[: exc.start].decode("utf-8", errors="replace")
        return None


def _table(text: str, *, delimiter: str) -> dict[str, Any]:
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    rows: list[list[str]] = []
    try:
        for row in reader:
            rows.append(row[:CSV_COLUMNS])
            if len(rows) > CSV_ROWS:
                break
    except csv.Error:
        return {"kind": "text", "text": text, "note": "Not a valid CSV file"}
    more = len(rows) > CSV_ROWS
    header, body = (rows[0], rows[1 : CSV_ROWS + 1]) if rows else ([], [])
    return {"kind": "table", "header": header, "rows": body, "more_rows": more}


def _folder(artifacts: RunArtifacts, path: str) -> dict[str, Any]:
    entries = artifacts.list(path)
    names = {PurePosixPath(e.path).name for e in entries}
    result: dict[str, Any] = {"path": path, "kind": "folder", "entries": len(entries)}
    if "MLmodel" in names:
        mlmodel_path = f"{path}/MLmodel" if path else "MLmodel"
        text = _decode(artifacts.read(mlmodel_path, limit=PREVIEW_BYTES)) or ""
        result.update(kind="model", mlmodel=text, **_model_summary(text))
    return result


def _model_summary(text: str) -> dict[str, Any]:
    flavors, signature = model_summary(text)
    return {"flavors": flavors, "signature": signature}
