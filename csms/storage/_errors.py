"""Storage exceptions, written out once.

::

    StorageError(Exception)
    ├── MigrationError(StorageError)        the schema cannot be brought up to date
    ├── EmbeddedServerError(StorageError)   the embedded PostgreSQL could not be started or stopped
    └── NotFound(StorageError, LookupError) a row the caller named does not exist
"""

from __future__ import annotations

__all__ = ["EmbeddedServerError", "MigrationError", "NotFound", "StorageError"]


class StorageError(Exception):
    """Base class of the storage exceptions."""


class MigrationError(StorageError):
    """The schema cannot be brought up to date."""


class EmbeddedServerError(StorageError):
    """The embedded PostgreSQL server failed to start or stop."""


class NotFound(StorageError, LookupError):
    """The row the caller named does not exist."""
