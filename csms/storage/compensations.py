"""Compensations of discharge sessions (``v2g_compensations``, migration 0012), their priced
intervals (``v2g_compensation_intervals``, for audit) and what computing one reads: the
sessions that ended without one, and a session's export register readings.

A compensation is recorded once per session (the table is unique on it): recording it again
returns the one stored and writes nothing. Its payout (``payouts``) is written in the same
transaction, so a payout never exists for a compensation still being computed.

Energy in Wh, money in BRL (``Decimal``).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from decimal import Decimal

import attrs
from psycopg.rows import class_row

from ._connect import Connection
from .v2g_sessions import SessionRow

__all__ = [
    "CompensationRow",
    "IntervalRow",
    "NewCompensation",
    "by_session",
    "export_readings",
    "get",
    "intervals",
    "list_compensations",
    "record",
    "uncompensated_sessions",
]

_EXPORT_REGISTER = "Energy.Active.Export.Register"


@attrs.frozen
class NewCompensation:
    session_id: uuid.UUID
    station_id: str
    user_id: str | None
    station_group: str
    price_source: str
    simulated: bool
    exported_wh: Decimal
    gross_brl: Decimal
    margin_brl: Decimal
    net_brl: Decimal
    margin_percent: Decimal
    margin_brl_per_kwh: Decimal
    session_started_at: dt.datetime | None
    session_ended_at: dt.datetime
    id: uuid.UUID = attrs.field(factory=uuid.uuid4)


@attrs.frozen
class CompensationRow(NewCompensation):
    computed_at: dt.datetime = attrs.field(kw_only=True)
    #: The payout's state (``payouts``); None when there is nothing to pay (net 0).
    payout_state: str | None = attrs.field(kw_only=True, default=None)


@attrs.frozen
class IntervalRow:
    starts_at: dt.datetime
    ends_at: dt.datetime
    energy_wh: Decimal
    price_brl_per_kwh: Decimal
    gross_brl: Decimal
    post: str
    pld_brl_per_mwh: Decimal
    pld_source: str


_NEW = tuple(a.name for a in attrs.fields(NewCompensation))
_COLUMNS = ", ".join(f"c.{n}" for n in (*_NEW, "computed_at"))
_SELECT = (
    f"SELECT {_COLUMNS}, p.state AS payout_state FROM v2g_compensations c"
    " LEFT JOIN v2g_payouts p ON p.compensation_id = c.id"
)
_INTERVALS = tuple(a.name for a in attrs.fields(IntervalRow))


def record(
    conn: Connection, new: NewCompensation, priced: Sequence[IntervalRow]
) -> tuple[CompensationRow, bool]:
    """Record a session's compensation with its intervals and, when its net is positive, its
    pending payout; ``(row, True)``. A session already compensated: ``(that row, False)``."""
    values = attrs.asdict(new, recurse=False)
    inserted = conn.execute(
        f"INSERT INTO v2g_compensations ({', '.join(_NEW)}) VALUES ("
        + ", ".join(f"%({n})s" for n in _NEW)
        + ") ON CONFLICT (session_id) DO NOTHING RETURNING id",
        values,
    ).fetchone()
    if inserted is not None:
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO v2g_compensation_intervals (compensation_id, "
                + ", ".join(_INTERVALS)
                + ") VALUES (%s, "
                + ", ".join(["%s"] * len(_INTERVALS))
                + ")",
                [(new.id, *attrs.astuple(i)) for i in priced],
            )
        if new.net_brl > 0:
            conn.execute(
                "INSERT INTO v2g_payouts (compensation_id, user_id, amount_brl, idempotency_key)"
                " VALUES (%s, %s, %s, %s)",
                (new.id, new.user_id, new.net_brl, f"v2g-compensation-{new.id}"),
            )
    row = by_session(conn, new.session_id)
    assert row is not None
    return row, inserted is not None


def get(conn: Connection, compensation_id: uuid.UUID) -> CompensationRow | None:
    with conn.cursor(row_factory=class_row(CompensationRow)) as cur:
        cur.execute(_SELECT + " WHERE c.id = %s", (compensation_id,))
        return cur.fetchone()


def by_session(conn: Connection, session_id: uuid.UUID) -> CompensationRow | None:
    with conn.cursor(row_factory=class_row(CompensationRow)) as cur:
        cur.execute(_SELECT + " WHERE c.session_id = %s", (session_id,))
        return cur.fetchone()


def intervals(conn: Connection, compensation_id: uuid.UUID) -> list[IntervalRow]:
    with conn.cursor(row_factory=class_row(IntervalRow)) as cur:
        cur.execute(
            f"SELECT {', '.join(_INTERVALS)} FROM v2g_compensation_intervals"
            " WHERE compensation_id = %s ORDER BY starts_at",
            (compensation_id,),
        )
        return cur.fetchall()


def list_compensations(
    conn: Connection,
    *,
    user_id: str | None = None,
    station_id: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    limit: int = 100,
) -> list[CompensationRow]:
    """Compensations of sessions that ended in [since, until), newest first."""
    with conn.cursor(row_factory=class_row(CompensationRow)) as cur:
        cur.execute(
            _SELECT + " WHERE (%(user)s::text IS NULL OR c.user_id = %(user)s)"
            " AND (%(station)s::text IS NULL OR c.station_id = %(station)s)"
            " AND (%(since)s::timestamptz IS NULL OR c.session_ended_at >= %(since)s)"
            " AND (%(until)s::timestamptz IS NULL OR c.session_ended_at < %(until)s)"
            " ORDER BY c.session_ended_at DESC, c.id LIMIT %(limit)s",
            {"user": user_id, "station": station_id, "since": since, "until": until,
             "limit": limit},
        )  # fmt: skip
        return cur.fetchall()


def uncompensated_sessions(conn: Connection, *, limit: int = 100) -> list[SessionRow]:
    """Ended sessions without a compensation, the oldest end first (the catch-up)."""
    columns = ", ".join(f"s.{a.name}" for a in attrs.fields(SessionRow))
    with conn.cursor(row_factory=class_row(SessionRow)) as cur:
        cur.execute(
            f"SELECT {columns} FROM v2g_sessions s WHERE s.state IN ('completed', 'failed')"
            " AND NOT EXISTS (SELECT 1 FROM v2g_compensations c WHERE c.session_id = s.id)"
            " ORDER BY s.ended_at, s.id LIMIT %s",
            (limit,),
        )
        return cur.fetchall()


def export_readings(conn: Connection, session: SessionRow) -> list[tuple[dt.datetime, Decimal]]:
    """The export register's readings (totals, not per phase) from the session's creation to
    its end, in time order, one per instant (a message stored twice counts once): those of its
    transaction (a TransactionEvent names its EVSE only in its first one), and the MeterValues
    of its EVSE (they carry no transactionId)."""
    rows = conn.execute(
        "SELECT timestamp, max(value) FROM meter_values WHERE station_id = %(station)s"
        " AND measurand = %(measurand)s AND phase IS NULL"
        " AND timestamp >= %(since)s AND timestamp <= %(until)s"
        " AND (transaction_id = %(tx)s OR (transaction_id IS NULL AND evse_id = %(evse)s))"
        " GROUP BY timestamp ORDER BY timestamp",
        {
            "station": session.station_id,
            "evse": session.evse_id,
            "measurand": _EXPORT_REGISTER,
            "since": session.created_at,
            "until": session.ended_at or session.updated_at,
            "tx": session.transaction_id,
        },
    ).fetchall()
    return [(at, value) for at, value in rows]
