"""The API's list queries: filters with keyset pagination (newest first), over the tables the
storage package defines. Each takes a psycopg connection, like the storage repositories."""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from typing import Any

import orjson
from psycopg.rows import class_row

from csms.storage import Connection
from csms.storage.commands import CommandRow
from csms.storage.transactions import TransactionRow

from ._errors import InvalidBody

__all__ = ["decode_cursor", "encode_cursor", "list_commands", "list_transactions"]

_TX_COLUMNS = (
    "station_id, transaction_id, state, evse_id, connector_id, id_token, id_token_type,"
    " charging_state, started_at, ended_at, stopped_reason, last_seq_no"
)
_COMMAND_COLUMNS = (
    "id, station_id, action, requested_by, node_id, message_id, payload, status, response,"
    " error_code, error_description, requested_at, sent_at, completed_at"
)


def encode_cursor(*key: Any) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(key, default=str)).decode().rstrip("=")


def decode_cursor(cursor: str | None, arity: int) -> list[str] | None:
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = orjson.loads(raw)
    except ValueError:
        key = None
    if not (isinstance(key, list) and len(key) == arity and all(isinstance(k, str) for k in key)):
        raise InvalidBody("not a cursor this API gave out", field="cursor")
    if any("\x00" in k for k in key):
        raise InvalidBody("not a cursor this API gave out", field="cursor")
    return key


def _timestamp(value: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise InvalidBody("not a cursor this API gave out", field="cursor") from None
    if parsed.tzinfo is None:
        raise InvalidBody("not a cursor this API gave out", field="cursor")
    return parsed


def list_transactions(
    conn: Connection,
    *,
    station_id: str | None,
    active: bool | None,
    since: dt.datetime | None,
    until: dt.datetime | None,
    after: list[str] | None,
    limit: int,
) -> list[TransactionRow]:
    """Newest first; ``after`` is the (started_at, station_id, transaction_id) of the last row
    of the previous page."""
    key: tuple[Any, ...] = (None, None, None)
    if after is not None:
        key = (_timestamp(after[0]), after[1], after[2])
    with conn.cursor(row_factory=class_row(TransactionRow)) as cur:
        cur.execute(
            f"SELECT {_TX_COLUMNS} FROM transactions"
            " WHERE (%(station)s::text IS NULL OR station_id = %(station)s)"
            " AND (%(active)s::boolean IS NULL OR (state = 'Active') = %(active)s)"
            " AND (%(since)s::timestamptz IS NULL OR started_at >= %(since)s)"
            " AND (%(until)s::timestamptz IS NULL OR started_at < %(until)s)"
            " AND (%(k0)s::timestamptz IS NULL OR (started_at, station_id, transaction_id)"
            "      < (%(k0)s, %(k1)s::text, %(k2)s::text))"
            " ORDER BY started_at DESC, station_id DESC, transaction_id DESC LIMIT %(limit)s",
            {
                "station": station_id,
                "active": active,
                "since": since,
                "until": until,
                "k0": key[0],
                "k1": key[1],
                "k2": key[2],
                "limit": limit,
            },
        )
        return cur.fetchall()


def list_commands(
    conn: Connection,
    *,
    station_id: str | None,
    action: str | None,
    status: str | None,
    requested_by: str | None,
    since: dt.datetime | None,
    until: dt.datetime | None,
    after: list[str] | None,
    limit: int,
) -> list[CommandRow]:
    """Newest first; ``after`` is the (requested_at, id) of the last row of the previous page."""
    key: tuple[Any, ...] = (None, None)
    if after is not None:
        try:
            command_id = uuid.UUID(after[1])
        except ValueError:
            raise InvalidBody("not a cursor this API gave out", field="cursor") from None
        key = (_timestamp(after[0]), command_id)
    with conn.cursor(row_factory=class_row(CommandRow)) as cur:
        cur.execute(
            f"SELECT {_COMMAND_COLUMNS} FROM commands"
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
                "k0": key[0],
                "k1": key[1],
                "limit": limit,
            },
        )
        return cur.fetchall()
