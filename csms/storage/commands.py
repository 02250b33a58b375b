"""The command audit (every CSMS-to-station call): reads. Writes are ``CommandAudit`` records."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import attrs
from psycopg.rows import class_row

from ._connect import Connection

__all__ = ["CommandRow", "get", "list_for_station", "open_commands"]

_COLUMNS = (
    "id, station_id, action, requested_by, node_id, message_id, payload, status, response,"
    " error_code, error_description, requested_at, sent_at, completed_at"
)


@attrs.frozen
class CommandRow:
    id: uuid.UUID
    station_id: str
    action: str
    requested_by: str
    node_id: str | None
    message_id: str | None
    payload: dict[str, Any]
    status: str
    response: dict[str, Any] | None
    error_code: str | None
    error_description: str | None
    requested_at: dt.datetime
    sent_at: dt.datetime | None
    completed_at: dt.datetime | None


def get(conn: Connection, command_id: str | uuid.UUID) -> CommandRow | None:
    with conn.cursor(row_factory=class_row(CommandRow)) as cur:
        cur.execute(f"SELECT {_COLUMNS} FROM commands WHERE id = %s", (command_id,))
        return cur.fetchone()


def list_for_station(
    conn: Connection, station_id: str, *, action: str | None = None, limit: int = 100
) -> list[CommandRow]:
    """Newest first."""
    with conn.cursor(row_factory=class_row(CommandRow)) as cur:
        cur.execute(
            f"SELECT {_COLUMNS} FROM commands WHERE station_id = %(station)s"
            " AND (%(action)s::text IS NULL OR action = %(action)s)"
            " ORDER BY requested_at DESC LIMIT %(limit)s",
            {"station": station_id, "action": action, "limit": limit},
        )
        return cur.fetchall()


def list_commands(
    conn: Connection,
    *,
    station_id: str | None = None,
    action: str | None = None,
    status: str | None = None,
    requested_by: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    after: tuple[dt.datetime, uuid.UUID] | None = None,
    limit: int = 100,
) -> list[CommandRow]:
    """Newest first; ``after`` is the (requested_at, id) of the last row of the previous page."""
    k0, k1 = after if after is not None else (None, None)
    with conn.cursor(row_factory=class_row(CommandRow)) as cur:
        cur.execute(
            f"SELECT {_COLUMNS} FROM commands"
            " WHERE (%(station)s::text IS NULL OR station_id = %(station)s)"
            " AND (%(action)s::text IS NULL OR action = %(action)s)"
            " AND (%(status)s::text IS NULL OR status = %(status)s)"
            " AND (%(by)s::text IS NULL OR requested_by = %(by)s)"
            " AND (%(since)s::timestamptz IS NULL OR requested_at >= %(since)s)"
            " AND (%(until)s::timestamptz IS NULL OR requested_at < %(until)s)"
            " AND (%(k0)s::timestamptz IS NULL OR (requested_at, id) < (%(k0)s, %(k1)s::uuid))"
            " ORDER BY requested_at DESC, id DESC LIMIT %(limit)s",
            {
                "station": station_id,
                "action": action,
                "status": status,
                "by": requested_by,
                "since": since,
                "until": until,
                "k0": k0,
                "k1": k1,
                "limit": limit,
            },
        )
        return cur.fetchall()


def open_commands(conn: Connection, *, older_than: dt.datetime) -> list[CommandRow]:
    """Commands still pending or sent that were requested before ``older_than`` (left behind
    by a node that died; the scheduler marks them failed)."""
    with conn.cursor(row_factory=class_row(CommandRow)) as cur:
        cur.execute(
            f"SELECT {_COLUMNS} FROM commands WHERE status IN ('pending', 'sent')"
            " AND requested_at < %s ORDER BY requested_at",
            (older_than,),
        )
        return cur.fetchall()
