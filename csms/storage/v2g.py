"""V2G tables: capability, sessions and their events, grid prices, compensation (preferences
are a user's: ``users``).

Energy in Wh, power in W, money in BRL (``Decimal``). Session rows change through these functions
(the V2G session actor owns the state machine); the per-reading trail is ``V2GEventRecord``.
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
from ._errors import NotFound

# preferences are a user's (``users``); their names stay importable from here
from .users import PreferencesRow, get_preferences, preferences_of_id_token, upsert_preferences

__all__ = [
    "ACTIVE_STATES",
    "CapabilityRow",
    "CompensationRow",
    "GridPriceRow",
    "PreferencesRow",
    "SessionRow",
    "create_session",
    "get_capability",
    "get_preferences",
    "get_session",
    "grid_prices",
    "insert_compensation",
    "list_sessions",
    "mark_compensation",
    "pending_compensations",
    "preferences_of_id_token",
    "update_session",
    "upsert_capability",
    "upsert_grid_prices",
    "upsert_preferences",
]

ACTIVE_STATES = ("requested", "starting", "discharging", "stopping")


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


@attrs.frozen
class GridPriceRow:
    submarket: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    source: str
    pld_brl_per_mwh: Decimal
    retail_brl_per_kwh: Decimal
    tariff_band: str | None


@attrs.frozen
class CompensationRow:
    id: uuid.UUID
    session_id: uuid.UUID
    user_id: str
    station_id: str
    interval_start: dt.datetime
    interval_end: dt.datetime
    energy_wh: Decimal
    price_brl_per_kwh: Decimal
    gross_brl: Decimal
    margin_brl: Decimal
    net_brl: Decimal
    status: str
    idempotency_key: str
    payout_reference: str | None
    paid_at: dt.datetime | None


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


def create_session(
    conn: Connection,
    *,
    station_id: str,
    evse_id: int,
    requested_by: str,
    target_power_w: Decimal,
    min_soc_percent: Decimal,
    transaction_id: str | None = None,
    user_id: str | None = None,
    ev_id: str | None = None,
    window_end_at: dt.datetime | None = None,
) -> SessionRow:
    """A new session in state ``requested``. Raises ``psycopg.errors.UniqueViolation`` when the
    EVSE already has an active one."""
    with conn.cursor(row_factory=class_row(SessionRow)) as cur:
        cur.execute(
            "INSERT INTO v2g_sessions (id, station_id, evse_id, transaction_id, user_id, ev_id,"
            " state, requested_by, target_power_w, min_soc_percent, window_end_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, 'requested', %s, %s, %s, %s)"
            f" RETURNING {_fields(SessionRow)}",
            (
                uuid.uuid4(),
                station_id,
                evse_id,
                transaction_id,
                user_id,
                ev_id,
                requested_by,
                target_power_w,
                min_soc_percent,
                window_end_at,
            ),
        )
        row = cur.fetchone()
    assert row is not None
    return row


_UPDATABLE = frozenset(
    {
        "state",
        "transaction_id",
        "start_soc_percent",
        "soc_percent",
        "energy_exported_wh",
        "profile_id",
        "started_at",
        "ended_at",
        "end_reason",
        "target_power_w",
    }
)


def update_session(conn: Connection, session_id: uuid.UUID | str, **changes: Any) -> SessionRow:
    unknown = set(changes) - _UPDATABLE
    if unknown or not changes:
        raise ValueError(f"cannot update session fields {sorted(unknown) or '(none given)'}")
    assignments = ", ".join(f"{name} = %({name})s" for name in changes)
    with conn.cursor(row_factory=class_row(SessionRow)) as cur:
        cur.execute(
            f"UPDATE v2g_sessions SET {assignments}, updated_at = now() WHERE id = %(id)s"
            f" RETURNING {_fields(SessionRow)}",
            {**changes, "id": session_id},
        )
        row = cur.fetchone()
    if row is None:
        raise NotFound(f"no V2G session {session_id}")
    return row


def get_session(conn: Connection, session_id: uuid.UUID | str) -> SessionRow | None:
    with conn.cursor(row_factory=class_row(SessionRow)) as cur:
        cur.execute(f"SELECT {_fields(SessionRow)} FROM v2g_sessions WHERE id = %s", (session_id,))
        return cur.fetchone()


def list_sessions(
    conn: Connection,
    *,
    active: bool | None = None,
    station_id: str | None = None,
    user_id: str | None = None,
    limit: int = 100,
) -> list[SessionRow]:
    with conn.cursor(row_factory=class_row(SessionRow)) as cur:
        cur.execute(
            f"SELECT {_fields(SessionRow)} FROM v2g_sessions"
            " WHERE (%(active)s::boolean IS NULL OR (state = ANY(%(states)s)) = %(active)s)"
            " AND (%(station)s::text IS NULL OR station_id = %(station)s)"
            " AND (%(user)s::text IS NULL OR user_id = %(user)s)"
            " ORDER BY created_at DESC LIMIT %(limit)s",
            {
                "active": active,
                "states": list(ACTIVE_STATES),
                "station": station_id,
                "user": user_id,
                "limit": limit,
            },
        )
        return cur.fetchall()


def upsert_grid_prices(conn: Connection, prices: list[GridPriceRow]) -> None:
    """Store prices; a CCEE price replaces a simulated one for the same hour, never the reverse."""
    with conn.cursor() as cur:
        cur.executemany(
            f"INSERT INTO v2g_grid_prices AS p ({_fields(GridPriceRow)}) VALUES"
            " (%(submarket)s, %(starts_at)s, %(ends_at)s, %(source)s, %(pld_brl_per_mwh)s,"
            " %(retail_brl_per_kwh)s, %(tariff_band)s)"
            " ON CONFLICT (submarket, starts_at) DO UPDATE SET ends_at = EXCLUDED.ends_at,"
            " source = EXCLUDED.source, pld_brl_per_mwh = EXCLUDED.pld_brl_per_mwh,"
            " retail_brl_per_kwh = EXCLUDED.retail_brl_per_kwh,"
            " tariff_band = EXCLUDED.tariff_band, fetched_at = now()"
            " WHERE NOT (p.source = 'ccee' AND EXCLUDED.source = 'simulated')",
            [attrs.asdict(p) for p in prices],
        )


def grid_prices(
    conn: Connection, submarket: str, since: dt.datetime, until: dt.datetime
) -> list[GridPriceRow]:
    """Prices of intervals starting in ``[since, until)``, in time order."""
    with conn.cursor(row_factory=class_row(GridPriceRow)) as cur:
        cur.execute(
            f"SELECT {_fields(GridPriceRow)} FROM v2g_grid_prices WHERE submarket = %s"
            " AND starts_at >= %s AND starts_at < %s ORDER BY starts_at",
            (submarket, since, until),
        )
        return cur.fetchall()


def insert_compensation(conn: Connection, row: CompensationRow) -> bool:
    """Record a compensation; False when that interval of that session was already recorded."""
    cur = conn.execute(
        f"INSERT INTO v2g_compensations ({_fields(CompensationRow)}) VALUES ("
        + ", ".join(["%s"] * len(attrs.fields(CompensationRow)))
        + ") ON CONFLICT (session_id, interval_start) DO NOTHING",
        attrs.astuple(row),
    )
    return cur.rowcount == 1


def pending_compensations(conn: Connection, *, limit: int = 500) -> list[CompensationRow]:
    """Pending or failed payouts, oldest first, locked for this transaction (SKIP LOCKED lets
    two nodes pay out in parallel without paying the same row)."""
    with conn.cursor(row_factory=class_row(CompensationRow)) as cur:
        cur.execute(
            f"SELECT {_fields(CompensationRow)} FROM v2g_compensations"
            " WHERE status IN ('pending', 'failed') ORDER BY created_at LIMIT %s"
            " FOR UPDATE SKIP LOCKED",
            (limit,),
        )
        return cur.fetchall()


def mark_compensation(
    conn: Connection,
    compensation_id: uuid.UUID,
    status: str,
    *,
    payout_reference: str | None = None,
    paid_at: dt.datetime | None = None,
) -> None:
    cur = conn.execute(
        "UPDATE v2g_compensations SET status = %s, payout_reference = COALESCE(%s,"
        " payout_reference), paid_at = %s WHERE id = %s",
        (status, payout_reference, paid_at, compensation_id),
    )
    if cur.rowcount == 0:
        raise NotFound(f"no compensation {compensation_id}")
