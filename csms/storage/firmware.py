"""Firmware update jobs. A job survives a node restart: its state lives here, written by its
job actor (csms/actors/firmware), with the statuses the station reported in
``firmware_status_history``."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import attrs
from psycopg.rows import class_row

from ._connect import Connection
from ._errors import NotFound

__all__ = [
    "FirmwareJobRow",
    "StatusEntry",
    "active_jobs",
    "add_status",
    "create_job",
    "get_job",
    "get_job_by_id",
    "history",
    "insert_job",
    "latest_job",
    "list_jobs",
    "next_request_id",
    "replace_active",
    "save_job",
    "set_status",
]


@attrs.frozen
class FirmwareJobRow:
    station_id: str
    request_id: int
    location: str
    retrieve_at: dt.datetime
    install_at: dt.datetime | None
    retries: int | None
    retry_interval_s: int | None
    signing_certificate: str | None
    signature: str | None
    requested_by: str
    status: str
    state: str
    status_at: dt.datetime
    created_at: dt.datetime
    id: uuid.UUID
    phase: str
    reason: str | None
    firmware_version: str | None
    last_activity_at: dt.datetime | None
    command_id: str | None
    #: the campaign that started it, if any
    campaign_id: uuid.UUID | None = None


@attrs.frozen
class StatusEntry:
    status: str
    at: dt.datetime


_COLUMNS = ", ".join(a.name for a in attrs.fields(FirmwareJobRow))


def create_job(
    conn: Connection,
    *,
    station_id: str,
    request_id: int,
    location: str,
    retrieve_at: dt.datetime,
    requested_by: str,
    install_at: dt.datetime | None = None,
    retries: int | None = None,
    retry_interval_s: int | None = None,
    signing_certificate: str | None = None,
    signature: str | None = None,
    replace_active: bool = False,
) -> FirmwareJobRow:
    """A new active job in status ``Requested``. With ``replace_active`` a running job of the
    station is marked ``Replaced`` first; without it a running job makes this raise
    ``psycopg.errors.UniqueViolation``."""
    if replace_active:
        conn.execute(
            "UPDATE firmware_updates SET state = 'canceled', status = 'Replaced',"
            " status_at = now() WHERE station_id = %s AND state = 'active'",
            (station_id,),
        )
    with conn.cursor(row_factory=class_row(FirmwareJobRow)) as cur:
        cur.execute(
            "INSERT INTO firmware_updates (station_id, request_id, location, retrieve_at,"
            " install_at, retries, retry_interval_s, signing_certificate, signature,"
            " requested_by, status, state, status_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'Requested', 'active', now())"
            f" RETURNING {_COLUMNS}",
            (
                station_id,
                request_id,
                location,
                retrieve_at,
                install_at,
                retries,
                retry_interval_s,
                signing_certificate,
                signature,
                requested_by,
            ),
        )
        row = cur.fetchone()
    assert row is not None
    return row


def get_job(conn: Connection, station_id: str, request_id: int) -> FirmwareJobRow | None:
    with conn.cursor(row_factory=class_row(FirmwareJobRow)) as cur:
        cur.execute(
            f"SELECT {_COLUMNS} FROM firmware_updates WHERE station_id = %s AND request_id = %s",
            (station_id, request_id),
        )
        return cur.fetchone()


def latest_job(conn: Connection, station_id: str) -> FirmwareJobRow | None:
    with conn.cursor(row_factory=class_row(FirmwareJobRow)) as cur:
        cur.execute(
            f"SELECT {_COLUMNS} FROM firmware_updates WHERE station_id = %s"
            " ORDER BY created_at DESC, request_id DESC LIMIT 1",
            (station_id,),
        )
        return cur.fetchone()


def active_jobs(conn: Connection) -> list[FirmwareJobRow]:
    """Jobs still running, to resume after a node restart."""
    with conn.cursor(row_factory=class_row(FirmwareJobRow)) as cur:
        cur.execute(
            f"SELECT {_COLUMNS} FROM firmware_updates WHERE state = 'active' ORDER BY created_at"
        )
        return cur.fetchall()


def set_status(
    conn: Connection, station_id: str, request_id: int, status: str, *, state: str | None = None
) -> None:
    cur = conn.execute(
        "UPDATE firmware_updates SET status = %s, state = COALESCE(%s, state), status_at = now()"
        " WHERE station_id = %s AND request_id = %s",
        (status, state, station_id, request_id),
    )
    if cur.rowcount == 0:
        raise NotFound(f"no firmware job {request_id} for station {station_id!r}")


def next_request_id(conn: Connection, station_id: str) -> int:
    """A requestId the station has not been given by csms yet."""
    row = conn.execute(
        "SELECT COALESCE(max(request_id), 0) + 1 FROM firmware_updates WHERE station_id = %s",
        (station_id,),
    ).fetchone()
    assert row is not None
    return int(row[0])


def replace_active(conn: Connection, station_id: str) -> list[uuid.UUID]:
    """End the station's running job as ``Replaced`` (the station canceled it for a new one)."""
    rows = conn.execute(
        "UPDATE firmware_updates SET state = 'canceled', phase = 'canceled', status = 'Replaced',"
        " reason = 'Replaced', status_at = now() WHERE station_id = %s AND state = 'active'"
        " RETURNING id",
        (station_id,),
    ).fetchall()
    return [r[0] for r in rows]


def insert_job(conn: Connection, **values: Any) -> FirmwareJobRow:
    """A job with its first status (the station's answer) as the job actor records it."""
    names = ", ".join(values)
    marks = ", ".join(["%s"] * len(values))
    with conn.cursor(row_factory=class_row(FirmwareJobRow)) as cur:
        cur.execute(
            f"INSERT INTO firmware_updates ({names}) VALUES ({marks}) RETURNING {_COLUMNS}",
            tuple(values.values()),
        )
        row = cur.fetchone()
    assert row is not None
    add_status(conn, row.id, row.status, row.status_at)
    return row


def save_job(conn: Connection, job_id: uuid.UUID, **changes: Any) -> FirmwareJobRow:
    assigns = ", ".join(f"{name} = %s" for name in changes)
    with conn.cursor(row_factory=class_row(FirmwareJobRow)) as cur:
        cur.execute(
            f"UPDATE firmware_updates SET {assigns} WHERE id = %s RETURNING {_COLUMNS}",
            (*changes.values(), job_id),
        )
        row = cur.fetchone()
    if row is None:
        raise NotFound(f"no firmware job {job_id}")
    return row


def add_status(conn: Connection, job_id: uuid.UUID, status: str, at: dt.datetime) -> None:
    conn.execute(
        "INSERT INTO firmware_status_history (job_id, status, at) VALUES (%s, %s, %s)",
        (job_id, status, at),
    )


def history(conn: Connection, job_id: uuid.UUID) -> list[StatusEntry]:
    with conn.cursor(row_factory=class_row(StatusEntry)) as cur:
        cur.execute(
            "SELECT status, at FROM firmware_status_history WHERE job_id = %s ORDER BY seq",
            (job_id,),
        )
        return cur.fetchall()


def get_job_by_id(conn: Connection, job_id: uuid.UUID) -> FirmwareJobRow | None:
    with conn.cursor(row_factory=class_row(FirmwareJobRow)) as cur:
        cur.execute(f"SELECT {_COLUMNS} FROM firmware_updates WHERE id = %s", (job_id,))
        return cur.fetchone()


def list_jobs(
    conn: Connection,
    *,
    station_id: str | None = None,
    state: str | None = None,
    campaign_id: uuid.UUID | None = None,
    limit: int = 100,
) -> list[FirmwareJobRow]:
    """Newest first."""
    with conn.cursor(row_factory=class_row(FirmwareJobRow)) as cur:
        cur.execute(
            f"SELECT {_COLUMNS} FROM firmware_updates"
            " WHERE (%(station)s::text IS NULL OR station_id = %(station)s)"
            " AND (%(state)s::text IS NULL OR state = %(state)s)"
            " AND (%(campaign)s::uuid IS NULL OR campaign_id = %(campaign)s)"
            " ORDER BY created_at DESC, request_id DESC LIMIT %(limit)s",
            {"station": station_id, "state": state, "campaign": campaign_id, "limit": limit},
        )
        return cur.fetchall()
