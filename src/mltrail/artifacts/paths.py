"""Path safety: the one gate every artifact path passes before it touches a store or a disk.

Names come from HTTP requests, stored URIs and server listings, so they are hostile by default.
:func:`safe_relpath` turns them into a normalised posix relative path or raises; :func:`ensure_within`
checks, after symlinks are resolved, that a location stays under its root; :func:`check_stored_uri`
applies both to a whole URI the server stores and later reads from (an experiment's artifact
location, a model version's source).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

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
        if _DRIVE.match(variant):
            raise _reject(original, "drive letters are not allowed")
        why = escapes_root(variant)
        if why:
            raise _reject(original, why)


def escapes_root(path: str) -> str | None:
    """Why ``path``, joined to a folder, could name something outside it (None: it cannot).

    The one check of ``..`` that artifact paths and metric, param and tag names share.
    """
    if path.startswith("/"):
        return "absolute paths are not allowed"
    segments = path.split("/")
    if ".." in segments:
        return "'..' segments are not allowed"
    # "a//b" is "/b" to os.path.join and to some object stores: as absolute as "/b".
    if "" in segments[1:-1]:
        return "empty segments ('//') are not allowed"
    return None


def safe_relpath(path: str) -> str:
    """A normalised posix relative path (``""`` for the root), or InvalidParameterValue.

    ``.`` segments and a trailing ``/`` are dropped; absolute paths, ``//`` inside the path,
    drive letters, ``..``, backslashes, control characters and percent-encoded (also repeatedly
    encoded) forms of them are rejected.
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


# Stored URIs with these schemes name a path under the server's own artifact destination.
PROXIED_URI_SCHEMES = frozenset({"mlflow-artifacts", "mltrail-artifacts"})


def _scheme(uri: str) -> str:
    head, sep, _ = uri.partition(":")
    # A one-letter "scheme" is a Windows drive letter; a head with a slash is a relative path.
    if not sep or len(head) < 2 or "/" in head or "\\" in head:
        return ""
    return head.lower()


def _local_path(uri: str) -> Path | None:
    """The local path a plain path or ``file:`` URI names (None for a remote file host)."""
    if not uri.startswith(("file:", "FILE:")):
        return Path(uri).expanduser().absolute()
    parsed = urlsplit(uri)
    if parsed.netloc not in ("", "localhost") or parsed.query or parsed.fragment:
        return None
    return Path(url2pathname(unquote(parsed.path))).absolute()


def _relative_to(candidate: Path, root: Path) -> str | None:
    """``candidate``'s parts below ``root``, compared segment by segment (no folding of ``..``)."""
    for base in dict.fromkeys((root.absolute(), root.resolve())):
        if candidate.parts[: len(base.parts)] == base.parts:
            return "/".join(candidate.parts[len(base.parts) :])
    return None


def _within_local_root(uri: str, root: str) -> bool:
    candidate = _local_path(uri)
    root_path = _local_path(root)
    if candidate is None or root_path is None:
        return False
    rel = _relative_to(candidate, root_path)
    if rel is None:
        return False
    ensure_within(root_path, root_path / safe_relpath(rel))
    return True


def _within_remote_root(uri: str, root: str) -> bool:
    got, base = urlsplit(uri), urlsplit(root)
    if got.query or got.fragment:
        raise InvalidParameterValue(
            f"Invalid location {uri!r}: query strings and fragments are not allowed"
        )
    if _scheme(uri) != _scheme(root) or got.netloc != base.netloc:
        return False
    got_parts = [seg for seg in got.path.split("/") if seg]
    base_parts = [seg for seg in base.path.split("/") if seg]
    if got_parts[: len(base_parts)] != base_parts:
        return False
    safe_relpath("/".join(got_parts[len(base_parts) :]))
    return True


def check_stored_uri(uri: str, *, allowed_roots: Sequence[str], what: str = "location") -> str:
    """``uri`` if the server may store it and later read from it; else InvalidParameterValue.

    Accepted: ``mlflow-artifacts:/<relative path>`` (a path under the server's artifact
    destination) and URIs inside one of ``allowed_roots`` (same scheme and bucket, the path below
    the root on segment boundaries; local paths and ``file://`` URIs alike, with symlinks resolved
    and checked by :func:`ensure_within`). The part below the root goes through
    :func:`safe_relpath`, so ``..`` and percent-encoded forms of it are refused too.
    """
    if not isinstance(uri, str) or not uri.strip():
        raise InvalidParameterValue(f"Invalid {what}: a non-empty URI is required")
    scheme = _scheme(uri)
    if scheme in PROXIED_URI_SCHEMES:
        parsed = urlsplit(uri)
        if parsed.query or parsed.fragment:
            raise InvalidParameterValue(
                f"Invalid {what} {uri!r}: query strings and fragments are not allowed"
            )
        safe_relpath(parsed.path.lstrip("/"))
        return uri
    for root in allowed_roots:
        if not root or _scheme(root) in PROXIED_URI_SCHEMES:
            continue
        root_is_local = _scheme(root) in ("", "file")
        if (scheme in ("", "file")) != root_is_local:
            continue
        if root_is_local and _within_local_root(uri, root):
            return uri
        if not root_is_local and _within_remote_root(uri, root):
            return uri
    raise InvalidParameterValue(_outside_message(uri, allowed_roots, what=what))


def _outside_message(uri: str, allowed_roots: Sequence[str], *, what: str) -> str:
    roots = [r for r in allowed_roots if r and _scheme(r) not in PROXIED_URI_SCHEMES]
    named = ", ".join(repr(r) for r in roots)
    where = f" or a location under {named}" if roots else ""
    return (
        f"Invalid {what} {uri!r}: it is outside the server's artifact roots; use "
        f"mlflow-artifacts:/<path>{where}"
    )
