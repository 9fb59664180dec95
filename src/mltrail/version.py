"""The package version, read from the installed package's metadata (pyproject.toml is the one
place it is written), in a leaf of its own so the server can report it without importing the
fluent client that ``mltrail/__init__.py`` loads."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mltrail")
except PackageNotFoundError:  # pragma: no cover - running from a source tree not installed
    __version__ = "0+unknown"
