from __future__ import annotations

import os
from pathlib import Path

import pytest

from mltrail.artifacts.paths import ensure_within, join_relpath, safe_join, safe_relpath
from mltrail.errors import InvalidParameterValue

REJECTED = [
    "a//b///c",
    "1//etc/passwd",
    "1/%2Ftmp%2Fpwn",
    "/etc/passwd",
    "//server/share",
    "C:/Windows/system32",
    "c:foo",
    "..",
    "../x",
    "a/../../x",
    "a/..",
    "a\\b",
    "..\\x",
    "a\x00b",
    "a\nb",
    "a\rb",
    "tab\there",
    "del\x7f",
    "c1\x85",
    "%2e%2e/x",
    "%2E%2E/x",
    "a/%2e%2e/%2e%2e/x",
    "%252e%252e/x",
    "%25252e%25252e/x",
    "%2fetc/passwd",
    "%2Fetc",
    "a%5cb",
    "%255c",
    "a%00b",
    "a%2500b",
    "%0a",
    "%43:/x",
    "\uff0e\uff0e/x",
    "a\uff3cb",
    "%ff%fe",
]

ACCEPTED = [
    ("", ""),
    (".", ""),
    ("/", None),
    ("a", "a"),
    ("a/b/c.txt", "a/b/c.txt"),
    ("./a/./b/.", "a/b"),
    ("a/", "a"),
    ("...", "..."),
    ("..foo/bar..", "..foo/bar.."),
    ("my file with spaces.txt", "my file with spaces.txt"),
    ("données/résumé.txt", "données/résumé.txt"),
    ("模型/权重.bin", "模型/权重.bin"),
    ("emoji 🎉.png", "emoji 🎉.png"),
    ("100%.txt", "100%.txt"),
    ("a%20b", "a%20b"),
    ("model.tar.gz", "model.tar.gz"),
    ("~user", "~user"),
    (".hidden", ".hidden"),
]


@pytest.mark.parametrize("path", REJECTED)
def test_rejected(path: str) -> None:
    with pytest.raises(InvalidParameterValue, match="Invalid path"):
        safe_relpath(path)


@pytest.mark.parametrize(("path", "expected"), [a for a in ACCEPTED if a[1] is not None])
def test_accepted(path: str, expected: str) -> None:
    assert safe_relpath(path) == expected


def test_root_slash_is_absolute() -> None:
    with pytest.raises(InvalidParameterValue):
        safe_relpath("/")


def test_non_string_rejected() -> None:
    with pytest.raises(InvalidParameterValue):
        safe_relpath(b"a")  # type: ignore[arg-type]


def test_too_deeply_encoded_rejected() -> None:
    encoded = "x"
    for _ in range(12):
        encoded = encoded.replace("%", "%25") if "%" in encoded else "%78"
    with pytest.raises(InvalidParameterValue, match="percent-encoding"):
        safe_relpath(encoded)


def test_join_relpath_checks_each_part() -> None:
    assert join_relpath("a/", "", "b/c") == "a/b/c"
    with pytest.raises(InvalidParameterValue):
        join_relpath("a", "../b")


def test_ensure_within_accepts_inside_and_root(tmp_path: Path) -> None:
    assert ensure_within(tmp_path, tmp_path / "x" / "y") == (tmp_path / "x" / "y").resolve()
    assert ensure_within(tmp_path, tmp_path) == tmp_path.resolve()


def test_ensure_within_rejects_symlink_escape(tmp_path: Path) -> None:
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    os.symlink(outside, root / "link")
    with pytest.raises(InvalidParameterValue, match="outside"):
        ensure_within(root, root / "link" / "file.txt")


def test_ensure_within_rejects_sibling_with_common_prefix(tmp_path: Path) -> None:
    (tmp_path / "root").mkdir()
    (tmp_path / "root2").mkdir()
    with pytest.raises(InvalidParameterValue):
        ensure_within(tmp_path / "root", tmp_path / "root2" / "x")


def test_safe_join(tmp_path: Path) -> None:
    assert safe_join(tmp_path, "a/b") == (tmp_path / "a" / "b").resolve()
    with pytest.raises(InvalidParameterValue):
        safe_join(tmp_path, "../evil")
