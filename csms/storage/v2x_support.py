"""What the V2X owner reads and keeps of a station: its V2X support (``v2x_station_support``,
migration 0009: OCPP 2.1 ``V2XChargingCtrlr.Enabled`` and ``SupportedOperationModes``), a 2.0.1
station's declared bidirectionality (``stations.bidirectional``), and the transaction an EVSE is
in (whose id token says whose EV it is)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from ._connect import Connection

__all__ = [
    "ActiveTransaction",
    "StationSupportRow",
    "active_transaction",
    "declared_bidirectional",
    "get_support",
    "upsert_support",
]


@attrs.frozen
class StationSupportRow:
    station_id: str
    #: ``V2XChargingCtrlr.Enabled``; None when the station did not report it.
    enabled: bool | None
    #: ``V2XChargingCtrlr.SupportedOperationModes``; None when the station did not report it.
    operation_modes: list[str] | None
    #: The GetVariables results as the station sent them.
    raw: list[dict[str, Any]]
    read_at: dt.datetime


def upsert_support(conn: Connection, row: StationSupportRow) -> None:
    """Store what was read; an older read never replaces a newer one."""
    conn.execute(
        "INSERT INTO v2x_station_support (station_id, enabled, operation_modes, raw, read_at)"
        " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (station_id) DO UPDATE SET"
        " enabled = EXCLUDED.enabled, operation_modes = EXCLUDED.operation_modes,"
        " raw = EXCLUDED.raw, read_at = EXCLUDED.read_at"
        " WHERE v2x_station_support.read_at <= EXCLUDED.read_at",
        (row.station_id, row.enabled, row.operation_modes, Jsonb(row.raw), row.read_at),
    )


def get_support(conn: Connection, station_id: str) -> StationSupportRow | None:
    with conn.cursor(row_factory=class_row(StationSupportRow)) as cur:
        cur.execute(
            "SELECT station_id, enabled, operation_modes, raw, read_at"
            " FROM v2x_station_support WHERE station_id = %s",
            (station_id,),
        )
        return cur.fetchone()


def declared_bidirectional(conn: Connection, station_id: str) -> bool:
    """Whether the station was registered as bidirectional (the OCPP 2.0.1 convention,
    docs/V2G.md); False for an unknown station."""
    found = conn.execute(
        "SELECT bidirectional FROM stations WHERE id = %s", (station_id,)
    ).fetchone()
    return bool(found and found[0])


@attrs.frozen
class ActiveTransaction:
    transaction_id: str
    id_token: str | None
    id_token_type: str | None


def active_transaction(conn: Connection, station_id: str, evse_id: int) -> ActiveTransaction | None:
    """The station's active transaction on ``evse_id`` (the latest started, should the station
    have left an older one open)."""
    with conn.cursor(row_factory=class_row(ActiveTransaction)) as cur:
        cur.execute(
            "SELECT transaction_id, id_token, id_token_type FROM transactions"
            " WHERE station_id = %s AND state = 'Active' AND evse_id = %s"
            " ORDER BY started_at DESC LIMIT 1",
            (station_id, evse_id),
        )
        return cur.fetchone()
