"""The operator dashboard's reads: the overview's figures, a filtered page of stations, a
station's recent messages. Every query is bounded (a page, a limit, an indexed range), so a
page stays fast with 10,000 stations and a busy meter_values table.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import attrs
from psycopg.rows import class_row

from ._connect import Connection
from .stations import _COLUMNS as _STATION_COLUMNS
from .stations import StationRow
from .v2g_sessions import ACTIVE_STATES

__all__ = [
    "REGISTER",
    "STATUSES",
    "ConnectorRow",
    "FilterOptions",
    "MessageRow",
    "NetworkCounts",
    "Place",
    "RegisterSpan",
    "SecurityEventRow",
    "StationFilter",
    "StationPage",
    "connectors_of",
    "filter_options",
    "first_transaction_event_since",
    "missing_transaction_events",
    "network_counts",
    "recent_security_events",
    "register_spans",
    "register_spans_of",
    "station_messages",
    "station_page",
    "transaction_event_mark",
    "transaction_events_between",
]

#: What the station list filters by: connected to a node, not connected, a connector Faulted.
STATUSES = ("online", "offline", "faulted")


@attrs.frozen
class NetworkCounts:
    stations: int
    online: int
    faulted: int
    active_transactions: int
    active_v2g_sessions: int
    #: The discharge power the active sessions last reported, W (positive).
    discharge_power_w: Decimal


def network_counts(conn: Connection) -> NetworkCounts:
    row = conn.execute(
        "SELECT (SELECT count(*) FROM stations),"
        " (SELECT count(*) FROM stations WHERE node_id IS NOT NULL),"
        " (SELECT count(DISTINCT station_id) FROM evses WHERE status = 'Faulted'),"
        " (SELECT count(*) FROM transactions WHERE state = 'Active'),"
        " (SELECT count(*) FROM v2g_sessions WHERE state = ANY(%(states)s)),"
        " (SELECT coalesce(sum(abs(last_power_w)), 0) FROM v2g_sessions"
        "   WHERE state = ANY(%(states)s))",
        {"states": list(ACTIVE_STATES)},
    ).fetchone()
    assert row is not None
    return NetworkCounts(*row)


#: The register the overview's energy figure reads (a sampled value without a measurand is one:
#: the stored meter values default it so too).
REGISTER = "Energy.Active.Import.Register"


#: A register reading's place in its transaction, the order the station read them in: (seqNo,
#: meter value, sampled value), the last two counted from 1 within the event.
Place = tuple[int, int, int]


@attrs.frozen
class RegisterSpan:
    """A transaction's first and last Energy.Active.Import.Register readings in some of its
    TransactionEvents (read from the payloads that carried them), each with its place."""

    station_id: str
    transaction_id: str
    first: tuple[Place, Decimal]
    last: tuple[Place, Decimal]


# Each transaction's first and last register readings among the chosen events (``{events}``):
# the least and the greatest (seqNo, meter value, sampled value, Wh) of its readings, compared
# as arrays (one hash aggregate, no sort). Read from the events' payloads, which hold exactly
# the readings the meter_values rows were made of (the same statement wrote both), found by the
# events' primary key: meter_values has only its (station_id, timestamp) index, and finding a
# transaction's readings there means walking its station's readings of that time, all of them
# on a station with many short transactions. The value is scaled as those rows' is.
_SPANS = """
SELECT e.station_id, e.transaction_id, min(r.reading), max(r.reading)
FROM transaction_events e
    CROSS JOIN LATERAL jsonb_array_elements(e.payload->'meterValue') WITH ORDINALITY AS m(mv, i)
    CROSS JOIN LATERAL jsonb_array_elements(mv->'sampledValue') WITH ORDINALITY AS s(sv, j)
    CROSS JOIN LATERAL (SELECT ARRAY[e.seq_no, m.i, s.j, (sv->'value')::numeric
        * ('1e' || COALESCE((sv->'unitOfMeasure'->'multiplier')::int4, 0))::numeric]
        AS reading) r
WHERE {events} AND e.timestamp >= %(since)s
    AND jsonb_typeof(e.payload->'meterValue') = 'array'
    AND COALESCE(sv->>'measurand', %(register)s) = %(register)s
GROUP BY e.station_id, e.transaction_id
"""


def _reading(a: list[Decimal]) -> tuple[Place, Decimal]:
    return (int(a[0]), int(a[1]), int(a[2])), a[3]


def _spans(conn: Connection, events: str, params: dict[str, Any]) -> list[RegisterSpan]:
    rows = conn.execute(_SPANS.format(events=events), {**params, "register": REGISTER})
    return [RegisterSpan(s, t, _reading(lo), _reading(hi)) for s, t, lo, hi in rows]


def register_spans(
    conn: Connection, since: dt.datetime, after: int, upto: int
) -> list[RegisterSpan]:
    """The span of register readings of each transaction in the transaction events with an id
    in (``after``, ``upto``] stamped at or after ``since``."""
    params = {"since": since, "after": after, "upto": upto}
    return _spans(conn, "e.id > %(after)s AND e.id <= %(upto)s", params)


def register_spans_of(conn: Connection, since: dt.datetime, ids: list[int]) -> list[RegisterSpan]:
    """As ``register_spans``, in the transaction events with these ids."""
    return _spans(conn, "e.id = ANY(%(ids)s)", {"since": since, "ids": ids})


def transaction_event_mark(conn: Connection) -> int:
    """The highest transaction event id (0 with none)."""
    row = conn.execute("SELECT coalesce(max(id), 0) FROM transaction_events").fetchone()
    assert row is not None
    return int(row[0])


def transaction_events_between(conn: Connection, after: int, upto: int) -> int:
    """How many transaction events have an id in (``after``, ``upto``]."""
    row = conn.execute(
        "SELECT count(*) FROM transaction_events WHERE id > %s AND id <= %s", (after, upto)
    ).fetchone()
    assert row is not None
    return int(row[0])


def missing_transaction_events(conn: Connection, ids: list[int]) -> list[int]:
    """Those of ``ids`` no transaction event has (yet: one still being written, or never: an
    id a rolled-back or conflicting insert used up)."""
    rows = conn.execute(
        "SELECT x FROM unnest(%s::bigint[]) AS x"
        " WHERE NOT EXISTS (SELECT 1 FROM transaction_events WHERE id = x) ORDER BY x",
        (ids,),
    ).fetchall()
    return [r[0] for r in rows]


def first_transaction_event_since(conn: Connection, instant: dt.datetime) -> int:
    """The id just below the first transaction event received at or after ``instant``: a
    binary search over the primary key (the ids grow with the arrival, give or take the length
    of a write), a few dozen index probes however many events there are."""
    row = conn.execute(
        "SELECT coalesce(min(id), 1), coalesce(max(id), 0) FROM transaction_events"
    ).fetchone()
    assert row is not None
    lo, hi = int(row[0]), int(row[1]) + 1
    while lo < hi:
        mid = (lo + hi) // 2
        at = conn.execute(
            "SELECT received_at FROM transaction_events WHERE id >= %s ORDER BY id LIMIT 1",
            (mid,),
        ).fetchone()
        if at is None or at[0] >= instant:
            hi = mid
        else:
            lo = mid + 1
    return lo - 1


@attrs.frozen
class SecurityEventRow:
    station_id: str
    type: str
    timestamp: dt.datetime
    tech_info: str | None


def recent_security_events(
    conn: Connection, *, station_id: str | None = None, limit: int = 10
) -> list[SecurityEventRow]:
    """Newest first (by arrival: the primary key for the network, the station's index else)."""
    with conn.cursor(row_factory=class_row(SecurityEventRow)) as cur:
        if station_id is None:
            cur.execute(
                "SELECT station_id, type, timestamp, tech_info FROM security_events"
                " ORDER BY id DESC LIMIT %s",
                (limit,),
            )
        else:
            cur.execute(
                "SELECT station_id, type, timestamp, tech_info FROM security_events"
                " WHERE station_id = %s ORDER BY timestamp DESC LIMIT %s",
                (station_id, limit),
            )
        return cur.fetchall()


@attrs.frozen
class StationFilter:
    status: str | None = None
    model: str | None = None
    firmware: str | None = None
    node: str | None = None
    #: A prefix of the station id.
    search: str | None = None


@attrs.frozen
class StationPage:
    rows: list[StationRow]
    #: Stations matching the filter, all pages.
    total: int


def _where(f: StationFilter) -> tuple[str, dict[str, Any]]:
    clauses = []
    if f.status == "online":
        clauses.append("s.node_id IS NOT NULL")
    elif f.status == "offline":
        clauses.append("s.node_id IS NULL")
    elif f.status == "faulted":
        clauses.append(
            "EXISTS (SELECT 1 FROM evses e WHERE e.station_id = s.id AND e.status = 'Faulted')"
        )
    if f.model is not None:
        clauses.append("s.model = %(model)s")
    if f.firmware is not None:
        clauses.append("s.firmware_version = %(firmware)s")
    if f.node is not None:
        clauses.append("s.node_id = %(node)s")
    if f.search:
        # a prefix range on the primary key (no LIKE, so no escaping and the index serves it)
        clauses.append("s.id >= %(search)s AND s.id < %(search)s || chr(1114111)")
    params = {"model": f.model, "firmware": f.firmware, "node": f.node, "search": f.search}
    return (" AND ".join(clauses) or "TRUE"), params


def station_page(
    conn: Connection, f: StationFilter, *, offset: int = 0, limit: int = 50
) -> StationPage:
    """One page of the stations matching ``f``, in id order."""
    where, params = _where(f)
    columns = ", ".join(f"s.{c.strip()}" for c in _STATION_COLUMNS.split(","))
    with conn.cursor(row_factory=class_row(StationRow)) as cur:
        cur.execute(
            f"SELECT {columns} FROM stations s WHERE {where}"
            " ORDER BY s.id OFFSET %(offset)s LIMIT %(limit)s",
            {**params, "offset": offset, "limit": limit},
        )
        rows = cur.fetchall()
    count = conn.execute(f"SELECT count(*) FROM stations s WHERE {where}", params).fetchone()
    assert count is not None
    return StationPage(rows, count[0])


@attrs.frozen
class FilterOptions:
    models: list[str]
    firmware: list[str]
    nodes: list[str]


def filter_options(conn: Connection, *, limit: int = 200) -> FilterOptions:
    """The values the station list's filters offer (the most common first)."""

    def top(column: str) -> list[str]:
        rows = conn.execute(
            f"SELECT {column} FROM stations WHERE {column} IS NOT NULL"
            f" GROUP BY {column} ORDER BY count(*) DESC, {column} LIMIT %s",
            (limit,),
        ).fetchall()
        return [r[0] for r in rows]

    return FilterOptions(top("model"), top("firmware_version"), top("node_id"))


@attrs.frozen
class ConnectorRow:
    station_id: str
    evse_id: int
    connector_id: int
    status: str
    status_at: dt.datetime


def connectors_of(conn: Connection, station_ids: list[str]) -> list[ConnectorRow]:
    with conn.cursor(row_factory=class_row(ConnectorRow)) as cur:
        cur.execute(
            "SELECT station_id, evse_id, connector_id, status, status_at FROM evses"
            " WHERE station_id = ANY(%s) ORDER BY station_id, evse_id, connector_id",
            (station_ids,),
        )
        return cur.fetchall()


@attrs.frozen
class MessageRow:
    """One stored station message: ``direction`` "in" (from the station) or "out" (a command)."""

    at: dt.datetime
    direction: str
    action: str
    summary: str
    payload: dict[str, Any] | None


def station_messages(conn: Connection, station_id: str, *, limit: int = 30) -> list[MessageRow]:
    """The station's recent stored messages both ways, newest first: its TransactionEvents
    (the events of its last five transactions) and SecurityEventNotifications, and the
    commands sent to it. (Other messages update state but are not kept one by one.)"""
    rows: list[MessageRow] = []
    tx = conn.execute(
        "SELECT e.timestamp, e.event_type, e.transaction_id, e.seq_no, e.trigger_reason,"
        " e.payload FROM (SELECT transaction_id FROM transactions WHERE station_id = %(s)s"
        "   ORDER BY started_at DESC LIMIT 5) t"
        " JOIN transaction_events e ON e.station_id = %(s)s"
        "   AND e.transaction_id = t.transaction_id"
        " ORDER BY e.timestamp DESC LIMIT %(limit)s",
        {"s": station_id, "limit": limit},
    ).fetchall()
    for at, kind, tx_id, seq, trigger, payload in tx:
        summary = f"{kind} {tx_id} #{seq} ({trigger})"
        rows.append(MessageRow(at, "in", "TransactionEvent", summary, payload))
    for ev in recent_security_events(conn, station_id=station_id, limit=limit):
        summary = ev.type + (f": {ev.tech_info}" if ev.tech_info else "")
        rows.append(MessageRow(ev.timestamp, "in", "SecurityEventNotification", summary, None))
    cmds = conn.execute(
        "SELECT requested_at, action, status, error_code FROM commands WHERE station_id = %s"
        " ORDER BY requested_at DESC LIMIT %s",
        (station_id, limit),
    ).fetchall()
    for at, action, status, error in cmds:
        rows.append(MessageRow(at, "out", action, status + (f" {error}" if error else ""), None))
    rows.sort(key=lambda r: r.at, reverse=True)
    return rows[:limit]
