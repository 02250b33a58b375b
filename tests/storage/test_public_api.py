"""The storage's public names are a contract: adding or removing one is a deliberate change."""

import csms.storage

from ..public_names import exported


def test_public_names_are_pinned():
    assert exported(csms.storage) == [
        "Batch",
        "BatchWriter",
        "Connection",
        "ConnectionPool",
        "DEFAULT_DATA_DIR",
        "EmbeddedPostgres",
        "EmbeddedServerError",
        "MIGRATION_LOCK_KEY",
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
