"""The errors an import or export raises: each says what went wrong and where.

They extend the one error tree (``mltrail.errors``), so the CLI prints them as one line
with its usual exit codes: 2 for bad input (not MLflow data, an untested schema, a corrupt
snapshot), 1 for everything else.
"""

from __future__ import annotations

from mltrail.errors import (
    ConnectionFailed,
    InvalidParameterValue,
    MltrailError,
    ResourceAlreadyExists,
    StorageFull,
    Unauthenticated,
)


class NotSourceData(InvalidParameterValue):
    """The SOURCE is not data this command reads (not MLflow's, not a snapshot)."""


class UntestedSchema(InvalidParameterValue):
    """An MLflow database at a schema revision the import was not tested with."""


class CorruptSnapshot(InvalidParameterValue):
    """A snapshot whose manifest or files are missing, unreadable or do not match."""


class SourceUnreachable(ConnectionFailed):
    """The source server or database cannot be reached."""


class SourceCredentials(Unauthenticated):
    """The source server refused the credentials given (or asked for some)."""


class NameConflict(ResourceAlreadyExists):
    """Names that exist in the target and that ``--on-conflict`` says to fail on."""


class TargetFull(StorageFull):
    """The disk under the target's database or artifacts is full."""


class TransferFailed(MltrailError):
    """Some items could not be moved (listed); what was moved is kept, and a re-run resumes."""
