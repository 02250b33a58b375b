"""``csms migrate``: bring a database up to date and say what was done."""

from __future__ import annotations

from pathlib import Path

from ._connect import connect
from ._embedded import DEFAULT_DATA_DIR, database_server
from ._migrations import apply_migrations

__all__ = ["migrate", "migrate_url"]


def migrate_url(url: str) -> list[str]:
    """Apply missing migrations to the database at ``url``; names of those applied."""
    with connect(url, autocommit=True) as conn:
        return [f"{m.version:04d}_{m.name}" for m in apply_migrations(conn)]


def migrate(data_dir: Path | str = DEFAULT_DATA_DIR, database_url: str | None = None) -> list[str]:
    """Migrate ``database_url`` if given, else the embedded server in ``data_dir`` (started for
    the occasion and stopped afterwards). Returns the names of the migrations applied."""
    with database_server(database_url=database_url, data_dir=data_dir) as url:
        return migrate_url(url)
