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
    "STATUSES",
    "ConnectorRow",
    "FilterOptions",
    "MessageRow",
    "NetworkCounts",
    "SecurityEventRow",
    "StationFilter",
    "StationPage",
    "connectors_of",
    "energy_since",
    "filter_options",
    "network_counts",
    "recent_security_events",
    "station_messages",
    "station_page",
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


def energy_since(conn: Connection, since: dt.datetime) -> Decimal:
    """Energy delivered since ``since``, Wh: for each transaction active or ended since then, its
    last Energy.Active.Import.Register reading minus its first one in that time. Each reading
    is found through the (station_id, timestamp) index, two probes per transaction, each
    starting at the transaction's own end of the window (its start, or its end, with a margin
    for a station stamping its readings a little before or after the event): a probe from
    ``since`` would walk past every earlier transaction of the station that day, which made
    the overview quadratic in a busy station's transactions."""
    row = conn.execute(
        "SELECT coalesce(sum(l.value - f.value), 0) FROM transactions t"
        " CROSS JOIN LATERAL (SELECT value FROM meter_values m"
        "   WHERE m.station_id = t.station_id"
        "   AND m.timestamp >= greatest(%(since)s, t.started_at - interval '5 minutes')"
        "   AND m.transaction_id = t.transaction_id"
        "   AND m.measurand = 'Energy.Active.Import.Register'"
        "   ORDER BY m.timestamp LIMIT 1) f"
        " CROSS JOIN LATERAL (SELECT value FROM meter_values m"
        "   WHERE m.station_id = t.station_id AND m.timestamp >= %(since)s"
        "   AND m.timestamp <= coalesce(t.ended_at + interval '5 minutes', 'infinity')"
        "   AND m.transaction_id = t.transaction_id"
        "   AND m.measurand = 'Energy.Active.Import.Register'"
        "   ORDER BY m.timestamp DESC LIMIT 1) l"
        " WHERE t.state = 'Active' OR t.ended_at >= %(since)s",
        {"since": since},
    ).fetchone()
    assert row is not None
    return Decimal(row[0])


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
