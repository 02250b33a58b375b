"""Numbered SQL migrations, applied in order, once, under an advisory lock.

Files are ``migrations/NNNN_name.sql``. Each runs in its own transaction together with its row in
``schema_migrations``, so a failed migration leaves nothing behind. The whole run holds a
session-level advisory lock: when several nodes start at once, one applies the migrations and the
others wait, then find nothing left to do. A migration that was applied and then edited is refused
(its checksum no longer matches), because the database would silently differ from the files.
"""

from __future__ import annotations

import hashlib
import logging
import re
from importlib import resources

import attrs

from ._connect import Connection
from ._errors import MigrationError

__all__ = ["MIGRATION_LOCK_KEY", "Migration", "apply_migrations", "load_migrations"]

log = logging.getLogger("csms.storage")

# Arbitrary constant shared by every node: the key of the advisory lock guarding migrations.
MIGRATION_LOCK_KEY = 0x63_73_6D_73_6D_69_67  # "csmsmig"
_MIN_SERVER_VERSION = 150000  # UNIQUE NULLS NOT DISTINCT
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


@attrs.frozen
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations() -> list[Migration]:
    """The migrations shipped with the package, in version order."""
    found: list[Migration] = []
    for entry in resources.files("csms.storage").joinpath("migrations").iterdir():
        match = _NAME.match(entry.name)
        if match is None:
            continue
        found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise MigrationError(f"migrations must be numbered 1..n without gaps, found {versions}")
    return found


def apply_migrations(
    conn: Connection, migrations: list[Migration] | None = None
) -> list[Migration]:
    """Apply what is missing; return the migrations applied by this call (empty if up to date).

    ``conn`` must be in autocommit mode (the advisory lock is held across several transactions).
    """
    if not conn.autocommit:
        raise MigrationError("apply_migrations needs an autocommit connection")
    if conn.info.server_version < _MIN_SERVER_VERSION:
        raise MigrationError(
            f"PostgreSQL 15 or newer is required, the server is {conn.info.server_version}"
        )
    wanted = load_migrations() if migrations is None else migrations
    conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
    try:
        conn.execute(_CREATE_TABLE)
        rows = conn.execute("SELECT version, name, checksum FROM schema_migrations").fetchall()
        applied: dict[int, tuple[str, str]] = {int(r[0]): (str(r[1]), str(r[2])) for r in rows}
        unknown = sorted(set(applied) - {m.version for m in wanted})
        if unknown:
            raise MigrationError(
                f"the database has migrations this code does not know: {unknown}; is it newer?"
            )
        done: list[Migration] = []
        for migration in wanted:
            previous = applied.get(migration.version)
            if previous is not None:
                if previous[1] != migration.checksum:
                    raise MigrationError(
                        f"migration {migration.version:04d}_{previous[0]} was changed after it"
                        " was applied; add a new migration instead"
                    )
                continue
            with conn.transaction():
                conn.execute(migration.sql.encode())  # several statements: no parameters
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                    (migration.version, migration.name, migration.checksum),
                )
            log.info(
                "migration applied",
                extra={"version": migration.version, "migration": migration.name},
            )
            done.append(migration)
        return done
    finally:
        if not conn.broken:  # a broken session has released its locks already
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_KEY,))
