"""Migrations: from empty, re-run, refused edits, atomic failure, two processes at once."""

from __future__ import annotations

import subprocess
import sys

import psycopg
import pytest

from csms.storage import (
    MIGRATION_LOCK_KEY,
    Migration,
    MigrationError,
    apply_migrations,
    connect,
    load_migrations,
    migrate_url,
)

TABLES = {
    "stations",
    "evses",
    "id_tokens",
    "transactions",
    "transaction_events",
    "meter_values",
    "charging_profiles",
    "commands",
    "device_variables",
    "security_events",
    "v2g_sessions",
    "v2g_preferences",
    "v2g_events",
    "v2g_compensations",
    "v2g_compensation_intervals",
    "v2g_payouts",
    "v2g_grid_prices",
    "v2g_capabilities",
    "iso15118_certificates",
    "certificate_signings",
    "firmware_updates",
    "firmware_status_history",
    "firmware_campaigns",
    "firmware_campaign_stations",
    "api_tokens",
    "users",
    "v2x_station_support",
    "schema_migrations",
}


def tables(url: str) -> set[str]:
    with connect(url) as conn:
        rows = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchall()
    return {r[0] for r in rows}


def recorded(url: str) -> list[int]:
    with connect(url) as conn:
        return [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY 1")]


def test_migrations_are_numbered_without_gaps():
    versions = [m.version for m in load_migrations()]
    assert versions == list(range(1, len(versions) + 1))
    assert len(versions) >= 5


def test_from_empty_creates_every_table_then_a_rerun_does_nothing(empty_database_url):
    applied = migrate_url(empty_database_url)
    assert applied == [f"{m.version:04d}_{m.name}" for m in load_migrations()]
    assert tables(empty_database_url) == TABLES
    assert migrate_url(empty_database_url) == []
    assert recorded(empty_database_url) == [m.version for m in load_migrations()]


def test_an_edited_migration_is_refused(empty_database_url):
    migrate_url(empty_database_url)
    edited = load_migrations()
    edited[0] = Migration(edited[0].version, edited[0].name, edited[0].sql + "\n-- edited\n")
    with connect(empty_database_url, autocommit=True) as conn:
        with pytest.raises(MigrationError, match="changed after it was applied"):
            apply_migrations(conn, edited)
        # the lock was released: a correct run still works on the same session
        assert apply_migrations(conn) == []


def test_a_database_newer_than_the_code_is_refused(empty_database_url):
    migrate_url(empty_database_url)
    with (
        connect(empty_database_url, autocommit=True) as conn,
        pytest.raises(MigrationError, match="does not know"),
    ):
        apply_migrations(conn, load_migrations()[:-1])


def test_a_failing_migration_leaves_nothing_behind(empty_database_url):
    good = Migration(1, "good", "CREATE TABLE a (x int);")
    bad = Migration(2, "bad", "CREATE TABLE b (x int); SELECT no_such_function();")
    with connect(empty_database_url, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.UndefinedFunction):
            apply_migrations(conn, [good, bad])
        assert apply_migrations(conn, [good]) == []
    assert "b" not in tables(empty_database_url)
    assert recorded(empty_database_url) == [1]


def test_autocommit_connection_is_required(empty_database_url):
    with connect(empty_database_url) as conn, pytest.raises(MigrationError, match="autocommit"):
        apply_migrations(conn)


def test_two_processes_migrating_at_once_apply_each_migration_once(empty_database_url):
    """Two real processes start migrating while the lock is held, so both must queue on the
    advisory lock; when it is released one applies everything and the other finds it done."""
    script = (
        "import sys; from csms.storage import migrate_url; print(len(migrate_url(sys.argv[1])))"
    )
    with connect(empty_database_url, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", script, empty_database_url],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        try:
            # Wait (bounded) until both processes are parked on the lock: they are external
            # processes, so there is no event to wait on, only the server's lock table to read.
            for _ in range(600):
                waiting = holder.execute(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                ).fetchone()
                if waiting is not None and waiting[0] == 2:
                    break
                holder.execute("SELECT pg_sleep(0.05)")
            else:
                pytest.fail("the two migrating processes never queued on the advisory lock")
        finally:
            holder.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_KEY,))
        outputs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in outputs]
    counts = sorted(int(out.strip()) for out, _ in outputs)
    assert counts == [0, len(load_migrations())]
    assert recorded(empty_database_url) == [m.version for m in load_migrations()]
    assert tables(empty_database_url) >= TABLES
