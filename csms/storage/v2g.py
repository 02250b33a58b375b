"""V2G tables: the EVs' capability, the base row of a discharge session. The sessions
themselves are ``v2g_sessions``, grid prices ``grid_prices``, preferences a user's (``users``),
compensations ``compensations`` and their payouts ``payouts``.

Energy in Wh, power in W, money in BRL (``Decimal``).
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import attrs
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from ._connect import Connection

# preferences are a user's (``users``); their names stay importable from here
from .users import PreferencesRow, get_preferences, preferences_of_id_token, upsert_preferences

__all__ = [
    "CapabilityRow",
    "PreferencesRow",
    "SessionRow",
    "get_capability",
    "get_preferences",
    "preferences_of_id_token",
    "upsert_capability",
    "upsert_preferences",
]


@attrs.frozen
class CapabilityRow:
    station_id: str
    evse_id: int
    ev_id: str
    bidirectional: bool
    energy_transfer_modes: list[str]
    max_charge_power_w: Decimal | None
    max_discharge_power_w: Decimal | None
    battery_capacity_wh: Decimal | None
    source: str
    raw: dict[str, Any] | None
    updated_at: dt.datetime


@attrs.frozen
class SessionRow:
    id: uuid.UUID
    station_id: str
    evse_id: int
    transaction_id: str | None
    user_id: str | None
    ev_id: str | None
    state: str
    requested_by: str
    target_power_w: Decimal
    min_soc_percent: Decimal
    start_soc_percent: Decimal | None
    soc_percent: Decimal | None
    energy_exported_wh: Decimal
    profile_id: int | None
    window_end_at: dt.datetime | None
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    end_reason: str | None
    created_at: dt.datetime
    updated_at: dt.datetime


def _fields(cls: type) -> str:
    return ", ".join(a.name for a in attrs.fields(cls))


def upsert_capability(conn: Connection, cap: CapabilityRow) -> None:
    values = attrs.asdict(cap)
    values["raw"] = None if cap.raw is None else Jsonb(cap.raw)
    names = _fields(CapabilityRow)
    conn.execute(
        f"INSERT INTO v2g_capabilities ({names}) VALUES ("
        + ", ".join(f"%({a})s" for a in values)
        + ") ON CONFLICT (station_id, evse_id, ev_id) DO UPDATE SET "
        + ", ".join(f"{a} = EXCLUDED.{a}" for a in values if a not in ("station_id", "evse_id"))
        + " WHERE v2g_capabilities.updated_at <= EXCLUDED.updated_at",
        values,
    )


def get_capability(conn: Connection, station_id: str) -> list[CapabilityRow]:
    """Everything known for a station, newest first."""
    with conn.cursor(row_factory=class_row(CapabilityRow)) as cur:
        cur.execute(
            f"SELECT {_fields(CapabilityRow)} FROM v2g_capabilities WHERE station_id = %s"
            " ORDER BY updated_at DESC",
            (station_id,),
        )
        return cur.fetchall()
