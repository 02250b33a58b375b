"""Stations, their EVSEs and presence: the reads and the administrative writes.

Writes that come from stations themselves (BootNotification, status, presence) go through the
persistence actor as records; these functions serve the REST API and the authentication path.
"""

from __future__ import annotations

import datetime as dt

import attrs
from psycopg.rows import class_row

from ._connect import Connection
from ._errors import NotFound

__all__ = [
    "EvseRow",
    "StationRow",
    "create",
    "delete",
    "get",
    "list_evses",
    "list_stations",
    "login",
    "logins",
    "password_hash",
    "set_password_hash",
    "set_registration_status",
    "stations_on_node",
]

_COLUMNS = (
    "id, security_profile, registration_status, ocpp_version, vendor_name, model, serial_number,"
    " firmware_version, modem_iccid, modem_imsi, last_boot_at, last_boot_reason, node_id,"
    " connected_since, last_seen_at, created_at, updated_at, bidirectional"
)


@attrs.frozen
class StationRow:
    """A station as the API shows it (the password hash is never part of it)."""

    id: str
    security_profile: int
    registration_status: str
    ocpp_version: str | None
    vendor_name: str | None
    model: str | None
    serial_number: str | None
    firmware_version: str | None
    modem_iccid: str | None
    modem_imsi: str | None
    last_boot_at: dt.datetime | None
    last_boot_reason: str | None
    node_id: str | None
    connected_since: dt.datetime | None
    last_seen_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime
    #: Declared able to discharge an EV (the OCPP 2.0.1 V2G convention, docs/V2G.md).
    bidirectional: bool = False


@attrs.frozen
class EvseRow:
    station_id: str
    evse_id: int
    connector_id: int
    status: str
    status_at: dt.datetime


def create(
    conn: Connection,
    station_id: str,
    *,
    password_hash: str | None = None,
    security_profile: int = 1,
    registration_status: str = "Accepted",
    bidirectional: bool = False,
) -> StationRow:
    """Register a station. Raises ``psycopg.errors.UniqueViolation`` if it exists."""
    with conn.cursor(row_factory=class_row(StationRow)) as cur:
        cur.execute(
            "INSERT INTO stations (id, password_hash, security_profile, registration_status,"
            f" bidirectional) VALUES (%s, %s, %s, %s, %s) RETURNING {_COLUMNS}",
            (station_id, password_hash, security_profile, registration_status, bidirectional),
        )
        row = cur.fetchone()
    assert row is not None
    return row


def get(conn: Connection, station_id: str) -> StationRow | None:
    with conn.cursor(row_factory=class_row(StationRow)) as cur:
        cur.execute(f"SELECT {_COLUMNS} FROM stations WHERE id = %s", (station_id,))
        return cur.fetchone()


def list_stations(
    conn: Connection, *, after: str | None = None, limit: int = 100, connected: bool | None = None
) -> list[StationRow]:
    """A page of stations in id order; ``after`` is the last id of the previous page."""
    with conn.cursor(row_factory=class_row(StationRow)) as cur:
        cur.execute(
            f"SELECT {_COLUMNS} FROM stations"
            " WHERE (%(after)s::text IS NULL OR id > %(after)s)"
            " AND (%(connected)s::boolean IS NULL OR (node_id IS NOT NULL) = %(connected)s)"
            " ORDER BY id LIMIT %(limit)s",
            {"after": after, "connected": connected, "limit": limit},
        )
        return cur.fetchall()


def stations_on_node(conn: Connection, node_id: str) -> list[str]:
    rows = conn.execute(
        "SELECT id FROM stations WHERE node_id = %s ORDER BY id", (node_id,)
    ).fetchall()
    return [r[0] for r in rows]


def password_hash(conn: Connection, station_id: str) -> tuple[str | None, int] | None:
    """(password hash, security profile) for the authentication path; None if unknown."""
    row = conn.execute(
        "SELECT password_hash, security_profile FROM stations WHERE id = %s", (station_id,)
    ).fetchone()
    return None if row is None else (row[0], row[1])


def login(conn: Connection, station_id: str) -> tuple[str | None, StationRow] | None:
    """(password hash, station) in one read, for the connection path; None if unknown."""
    row = conn.execute(
        f"SELECT password_hash, {_COLUMNS} FROM stations WHERE id = %s", (station_id,)
    ).fetchone()
    return None if row is None else (row[0], StationRow(*row[1:]))


def logins(conn: Connection, station_ids: list[str]) -> dict[str, tuple[str | None, StationRow]]:
    """:func:`login` for many stations in one query: the ones found, by id."""
    rows = conn.execute(
        f"SELECT password_hash, {_COLUMNS} FROM stations WHERE id = ANY(%s)", (station_ids,)
    ).fetchall()
    return {row[1]: (row[0], StationRow(*row[1:])) for row in rows}


def set_password_hash(conn: Connection, station_id: str, password_hash: str | None) -> None:
    _update(conn, station_id, "password_hash = %s", password_hash)


def set_security_profile(conn: Connection, station_id: str, profile: int) -> None:
    """Raise the station's security profile to ``profile``; never lowers it (A05.FR.07)."""
    conn.execute(
        "UPDATE stations SET security_profile = %s, updated_at = now()"
        " WHERE id = %s AND security_profile < %s",
        (profile, station_id, profile),
    )


def set_registration_status(conn: Connection, station_id: str, status: str) -> None:
    _update(conn, station_id, "registration_status = %s", status)


def delete(conn: Connection, station_id: str) -> None:
    """Delete a station and everything that is only about it; the command audit is kept."""
    conn.execute("DELETE FROM meter_values WHERE station_id = %s", (station_id,))
    conn.execute("DELETE FROM security_events WHERE station_id = %s", (station_id,))
    cur = conn.execute("DELETE FROM stations WHERE id = %s", (station_id,))
    if cur.rowcount == 0:
        raise NotFound(f"no station {station_id!r}")


def list_evses(conn: Connection, station_id: str) -> list[EvseRow]:
    with conn.cursor(row_factory=class_row(EvseRow)) as cur:
        cur.execute(
            "SELECT station_id, evse_id, connector_id, status, status_at FROM evses"
            " WHERE station_id = %s ORDER BY evse_id, connector_id",
            (station_id,),
        )
        return cur.fetchall()


def _update(conn: Connection, station_id: str, assignment: str, value: object) -> None:
    cur = conn.execute(
        f"UPDATE stations SET {assignment}, updated_at = now() WHERE id = %s",
        (value, station_id),
    )
    if cur.rowcount == 0:
        raise NotFound(f"no station {station_id!r}")
