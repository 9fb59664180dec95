"""Path safety: the one gate every artifact path passes before it touches a store or a disk.

Names come from HTTP requests, stored URIs and server listings, so they are hostile by default.
:func:`safe_relpath` turns them into a normalised posix relative path or raises; :func:`ensure_within`
checks, after symlinks are resolved, that a location stays under its root.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from urllib.parse import unquote

from mltrail.errors import InvalidParameterValue

# A name may be percent-decoded by every layer it crosses (proxy, framework, fsspec, object
# store), so it is checked in every form it could take; past this many rounds it is an attack.
_MAX_DECODE_ROUNDS = 8
_DRIVE = re.compile(r"^[A-Za-z]:")


def _reject(path: str, why: str) -> InvalidParameterValue:
    return InvalidParameterValue(f"Invalid path: {path!r} ({why})")


def _decoded_forms(path: str) -> list[str]:
    forms = [path]
    current = path
    for _ in range(_MAX_DECODE_ROUNDS):
        decoded = unquote(current, errors="strict") if "%" in current else current
        if decoded == current:
            return forms
        forms.append(decoded)
        current = decoded
    raise _reject(path, "too many levels of percent-encoding")


def _check_form(original: str, form: str) -> None:
    for ch in form:
        code = ord(ch)
        if code < 0x20 or 0x7F <= code <= 0x9F:
            raise _reject(original, "control characters are not allowed")
    # NFKC folds look-alikes (fullwidth dots and slashes) that some filesystems fold too.
    for variant in (form, unicodedata.normalize("NFKC", form)):
        if "\\" in variant:
            raise _reject(original, "backslashes are not allowed")
        if variant.startswith("/"):
            raise _reject(original, "absolute paths are not allowed")
        if _DRIVE.match(variant):
            raise _reject(original, "drive letters are not allowed")
        if any(seg == ".." for seg in variant.split("/")):
            raise _reject(original, "'..' segments are not allowed")


def safe_relpath(path: str) -> str:
    """A normalised posix relative path (``""`` for the root), or InvalidParameterValue.

    Empty and ``.`` segments are dropped; absolute paths, drive letters, ``..``, backslashes,
    control characters and percent-encoded (also repeatedly encoded) forms of them are rejected.
    The returned path keeps the caller's spelling: it is not percent-decoded.
    """
    if not isinstance(path, str):
        raise InvalidParameterValue(f"Invalid path: expected a string, got {type(path).__name__}")
    try:
        forms = _decoded_forms(path)
    except UnicodeDecodeError as exc:
        raise _reject(path, "percent-encoding that is not UTF-8") from exc
    for form in forms:
        _check_form(path, form)
    return "/".join(seg for seg in path.split("/") if seg not in ("", "."))


def join_relpath(*parts: str) -> str:
    """Join relative paths, each checked by :func:`safe_relpath`."""
    return "/".join(p for p in (safe_relpath(part) for part in parts) if p)


def ensure_within(root: Path, candidate: Path) -> Path:
    """``candidate`` with symlinks resolved, if it lies inside ``root``; else InvalidParameterValue."""
    root_resolved = root.resolve()
    resolved = candidate.resolve()
    if resolved != root_resolved and not resolved.is_relative_to(root_resolved):
        raise InvalidParameterValue(
            f"Invalid path: {str(candidate)!r} resolves outside {str(root)!r}"
        )
    return resolved


def safe_join(root: Path, path: str) -> Path:
    """``root / path`` after both checks: the way to turn a received name into a local path."""
    rel = safe_relpath(path)
    return ensure_within(root, root / rel if rel else root)
