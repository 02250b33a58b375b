"""Transactions, their events and meter values: the read side."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import attrs
from psycopg.rows import class_row

from ._connect import Connection

__all__ = [
    "MeterValueReading",
    "TransactionEventRow",
    "TransactionRow",
    "active_transactions",
    "events",
    "get",
    "list_transactions",
    "meter_values_by_station",
    "meter_values_by_transaction",
]

_TX_COLUMNS = (
    "station_id, transaction_id, state, evse_id, connector_id, id_token, id_token_type,"
    " charging_state, started_at, ended_at, stopped_reason, last_seq_no"
)
_MV_COLUMNS = (
    "station_id, timestamp, evse_id, transaction_id, measurand, phase, location, context, unit,"
    " value"
)


@attrs.frozen
class TransactionRow:
    station_id: str
    transaction_id: str
    state: str
    evse_id: int | None
    connector_id: int | None
    id_token: str | None
    id_token_type: str | None
    charging_state: str | None
    started_at: dt.datetime
    ended_at: dt.datetime | None
    stopped_reason: str | None
    last_seq_no: int


@attrs.frozen
class TransactionEventRow:
    seq_no: int
    event_type: str
    timestamp: dt.datetime
    trigger_reason: str
    offline: bool
    payload: dict[str, Any]


@attrs.frozen
class MeterValueReading:
    station_id: str
    timestamp: dt.datetime
    evse_id: int
    transaction_id: str | None
    measurand: str
    phase: str | None
    location: str | None
    context: str | None
    unit: str | None
    value: Decimal


def get(conn: Connection, station_id: str, transaction_id: str) -> TransactionRow | None:
    with conn.cursor(row_factory=class_row(TransactionRow)) as cur:
        cur.execute(
            f"SELECT {_TX_COLUMNS} FROM transactions WHERE station_id = %s AND transaction_id = %s",
            (station_id, transaction_id),
        )
        return cur.fetchone()


def active_transactions(conn: Connection, station_id: str) -> list[TransactionRow]:
    with conn.cursor(row_factory=class_row(TransactionRow)) as cur:
        cur.execute(
            f"SELECT {_TX_COLUMNS} FROM transactions WHERE station_id = %s AND state = 'Active'"
            " ORDER BY started_at",
            (station_id,),
        )
        return cur.fetchall()


def list_transactions(
    conn: Connection,
    *,
    station_id: str | None = None,
    active: bool | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    after: tuple[dt.datetime, str, str] | None = None,
    limit: int = 100,
) -> list[TransactionRow]:
    """Newest first, filtered by station, state and start time; ``after`` is the
    (started_at, station_id, transaction_id) of the last row of the previous page."""
    k0, k1, k2 = after if after is not None else (None, None, None)
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
                "k0": k0,
                "k1": k1,
                "k2": k2,
                "limit": limit,
            },
        )
        return cur.fetchall()


def events(conn: Connection, station_id: str, transaction_id: str) -> list[TransactionEventRow]:
    """The stored events of a transaction in seqNo order."""
    with conn.cursor(row_factory=class_row(TransactionEventRow)) as cur:
        cur.execute(
            "SELECT seq_no, event_type, timestamp, trigger_reason, offline, payload"
            " FROM transaction_events WHERE station_id = %s AND transaction_id = %s"
            " ORDER BY seq_no",
            (station_id, transaction_id),
        )
        return cur.fetchall()


def meter_values_by_transaction(
    conn: Connection, station_id: str, transaction_id: str, *, measurand: str | None = None
) -> list[MeterValueReading]:
    """A transaction's meter values in time order (searched within its station's rows)."""
    with conn.cursor(row_factory=class_row(MeterValueReading)) as cur:
        cur.execute(
            f"SELECT {_MV_COLUMNS} FROM meter_values WHERE station_id = %(station)s"
            " AND transaction_id = %(tx)s"
            " AND (%(measurand)s::text IS NULL OR measurand::text = %(measurand)s)"
            " ORDER BY timestamp",
            {"station": station_id, "tx": transaction_id, "measurand": measurand},
        )
        return cur.fetchall()


def meter_values_by_station(
    conn: Connection,
    station_id: str,
    since: dt.datetime,
    until: dt.datetime,
    *,
    measurand: str | None = None,
    limit: int = 10_000,
) -> list[MeterValueReading]:
    """A station's meter values with ``since <= timestamp < until``, in time order."""
    with conn.cursor(row_factory=class_row(MeterValueReading)) as cur:
        cur.execute(
            f"SELECT {_MV_COLUMNS} FROM meter_values WHERE station_id = %(station)s"
            " AND timestamp >= %(since)s AND timestamp < %(until)s"
            " AND (%(measurand)s::text IS NULL OR measurand::text = %(measurand)s)"
            " ORDER BY timestamp LIMIT %(limit)s",
            {
                "station": station_id,
                "since": since,
                "until": until,
                "measurand": measurand,
                "limit": limit,
            },
        )
        return cur.fetchall()
