"""The package version, in a leaf of its own so the server can report it without importing
the fluent client that ``mltrail/__init__.py`` loads."""

__version__ = "0.1.0"
