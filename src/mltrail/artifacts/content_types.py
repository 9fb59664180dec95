"""Content types for serving artifacts: only types a browser shows without running anything."""

from __future__ import annotations

OCTET_STREAM = "application/octet-stream"

# Names without an extension that are text: MLflow's model and project descriptors.
_TEXT_NAMES = frozenset({"mlmodel", "mlproject", "license", "readme", "dockerfile", "makefile"})

_BY_EXTENSION = {
    **dict.fromkeys(
        (
            "txt", "log", "md", "rst", "py", "yaml", "yml", "toml", "ini", "cfg", "conf",
            "sh", "r", "sql", "jsonl", "ndjson", "tsv", "properties", "env",
            # Markup that a browser would render or script is previewed as source text.
            "html", "htm", "xhtml", "svg", "xml", "js", "mjs", "css",
        ),
        "text/plain",
    ),
    "json": "application/json",
    "csv": "text/csv",
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "pdf": "application/pdf",
}  # fmt: skip


def guess_content_type(path: str) -> str:
    """The Content-Type to serve ``path`` with; unknown or risky types are octet-stream."""
    name = path.rstrip("/").rsplit("/", 1)[-1].lower()
    if name in _TEXT_NAMES:
        return "text/plain"
    if "." not in name.strip("."):
        return OCTET_STREAM
    return _BY_EXTENSION.get(name.rsplit(".", 1)[-1], OCTET_STREAM)
