"""PostgreSQL storage: migrations, the embedded server, connections, the batch writer, and
repository modules (``stations``, ``transactions``, ``commands``, ``tokens``, ``v2g``,
``firmware``, ``certificates``) whose functions take a psycopg connection.

Everything here is synchronous; the trio side runs it on worker threads.
"""

from ._connect import Connection, ConnectionPool, connect, with_database
from ._embedded import DEFAULT_DATA_DIR, EmbeddedPostgres, database_server
from ._errors import EmbeddedServerError, MigrationError, NotFound, StorageError
from ._migrations import MIGRATION_LOCK_KEY, Migration, apply_migrations, load_migrations
from ._writer import Batch, BatchWriter, TransientError
from .cli import migrate, migrate_url

__all__ = [
    "DEFAULT_DATA_DIR",
    "MIGRATION_LOCK_KEY",
    "Batch",
    "BatchWriter",
    "Connection",
    "ConnectionPool",
    "EmbeddedPostgres",
    "EmbeddedServerError",
    "Migration",
    "MigrationError",
    "NotFound",
    "StorageError",
    "TransientError",
    "apply_migrations",
    "connect",
    "database_server",
    "load_migrations",
    "migrate",
    "migrate_url",
    "with_database",
]
