"""Firmware update jobs. A job survives a node restart: its state lives here.
Status notifications arrive as ``FirmwareStatusRecord`` through the persistence actor."""

from __future__ import annotations

import datetime as dt

import attrs
from psycopg.rows import class_row

from ._connect import Connection
from ._errors import NotFound

__all__ = ["FirmwareJobRow", "active_jobs", "create_job", "get_job", "latest_job", "set_status"]


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
