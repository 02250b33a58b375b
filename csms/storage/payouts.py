"""Payouts of compensations to their owners' wallets (``v2g_payouts``, migration 0012) and the
money statistics over compensations and payouts.

A payout is claimed before it is sent: ``claim_due`` moves the due ones to ``sent`` (counting
the attempt, noting the owner's wallet) in one transaction, under ``FOR UPDATE SKIP LOCKED``,
so two nodes, or two runs, never send the same payout at once. ``finish`` records an attempt's
outcome, only on a payout still ``sent``. The state machine is ``csms/services/payout.py``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Literal

import attrs
from psycopg.rows import class_row

from ._connect import Connection

__all__ = [
    "MoneyStats",
    "PayoutRow",
    "ReportRow",
    "claim_due",
    "finish",
    "get",
    "list_payouts",
    "report",
    "retry",
    "stats",
]


@attrs.frozen
class PayoutRow:
    compensation_id: uuid.UUID
    session_id: uuid.UUID
    user_id: str | None
    wallet_id: str | None
    amount_brl: Decimal
    state: str
    idempotency_key: str
    attempts: int
    next_attempt_at: dt.datetime
    sent_at: dt.datetime | None
    paid_at: dt.datetime | None
    wallet_reference: str | None
    last_error: str | None
    created_at: dt.datetime
    updated_at: dt.datetime


_COLUMNS = ", ".join(
    "c.session_id" if a.name == "session_id" else f"p.{a.name}" for a in attrs.fields(PayoutRow)
)
_FROM = " FROM v2g_payouts p JOIN v2g_compensations c ON c.id = p.compensation_id"


def claim_due(
    conn: Connection, now: dt.datetime, *, limit: int, stale_after_s: float
) -> list[PayoutRow]:
    """The payouts due now (pending and their time come, or sent and unanswered for
    ``stale_after_s``), oldest first, moved to ``sent`` with one more attempt counted."""
    with conn.cursor(row_factory=class_row(PayoutRow)) as cur:
        cur.execute(
            "WITH due AS (SELECT compensation_id FROM v2g_payouts"
            " WHERE (state = 'pending' AND next_attempt_at <= %(now)s)"
            " OR (state = 'sent' AND sent_at <= %(stale)s)"
            " ORDER BY next_attempt_at, compensation_id LIMIT %(limit)s"
            " FOR UPDATE SKIP LOCKED)"
            " UPDATE v2g_payouts p SET state = 'sent', sent_at = %(now)s,"
            " attempts = p.attempts + 1, updated_at = now(),"
            " wallet_id = (SELECT u.wallet_id FROM users u WHERE u.user_id = p.user_id)"
            " FROM due, v2g_compensations c WHERE p.compensation_id = due.compensation_id"
            f" AND c.id = p.compensation_id RETURNING {_COLUMNS}",
            {"now": now, "stale": now - dt.timedelta(seconds=stale_after_s), "limit": limit},
        )
        rows = cur.fetchall()
    return sorted(rows, key=lambda r: (r.next_attempt_at, r.compensation_id))


def finish(
    conn: Connection,
    compensation_id: uuid.UUID,
    *,
    attempts: int,
    state: str,
    next_attempt_at: dt.datetime | None,
    paid_at: dt.datetime | None,
    wallet_reference: str | None,
    error: str | None,
) -> PayoutRow | None:
    """Record the outcome of attempt ``attempts`` of a payout still ``sent`` by it; None (and
    nothing written) when another run has claimed it since, or it is no longer sent."""
    with conn.cursor(row_factory=class_row(PayoutRow)) as cur:
        cur.execute(
            "UPDATE v2g_payouts p SET state = %(state)s, paid_at = %(paid_at)s,"
            " next_attempt_at = coalesce(%(next)s, p.next_attempt_at),"
            " wallet_reference = coalesce(%(reference)s, p.wallet_reference),"
            " last_error = %(error)s, updated_at = now()"
            " FROM v2g_compensations c"
            " WHERE p.compensation_id = %(id)s AND c.id = p.compensation_id"
            f" AND p.state = 'sent' AND p.attempts = %(attempts)s RETURNING {_COLUMNS}",
            {"state": state, "paid_at": paid_at, "next": next_attempt_at,
             "reference": wallet_reference, "error": error, "id": compensation_id,
             "attempts": attempts},
        )  # fmt: skip
        return cur.fetchone()


def retry(conn: Connection, compensation_id: uuid.UUID) -> PayoutRow | None:
    """A failed payout pending again, due now, its attempts counted afresh (the operator's
    retry, after a wallet was added or the wallet service fixed); None when it is not failed."""
    with conn.cursor(row_factory=class_row(PayoutRow)) as cur:
        cur.execute(
            "UPDATE v2g_payouts p SET state = 'pending', attempts = 0, next_attempt_at = now(),"
            " updated_at = now() FROM v2g_compensations c WHERE p.compensation_id = %s"
            f" AND c.id = p.compensation_id AND p.state = 'failed' RETURNING {_COLUMNS}",
            (compensation_id,),
        )
        return cur.fetchone()


def get(conn: Connection, compensation_id: uuid.UUID) -> PayoutRow | None:
    with conn.cursor(row_factory=class_row(PayoutRow)) as cur:
        cur.execute(f"SELECT {_COLUMNS}{_FROM} WHERE p.compensation_id = %s", (compensation_id,))
        return cur.fetchone()


def list_payouts(
    conn: Connection,
    *,
    state: str | None = None,
    user_id: str | None = None,
    limit: int = 100,
) -> list[PayoutRow]:
    """Payouts, newest first."""
    with conn.cursor(row_factory=class_row(PayoutRow)) as cur:
        cur.execute(
            f"SELECT {_COLUMNS}{_FROM} WHERE (%(state)s::text IS NULL OR p.state = %(state)s)"
            " AND (%(user)s::text IS NULL OR p.user_id = %(user)s)"
            " ORDER BY p.created_at DESC, p.compensation_id LIMIT %(limit)s",
            {"state": state, "user": user_id, "limit": limit},
        )
        return cur.fetchall()


# -- statistics ----------------------------------------------------------------------------------


@attrs.frozen
class MoneyStats:
    """Totals over compensations (sessions that ended in the period)."""

    sessions: int
    exported_wh: Decimal
    gross_brl: Decimal
    margin_brl: Decimal
    net_brl: Decimal
    paid_brl: Decimal
    pending_brl: Decimal
    failed_brl: Decimal


@attrs.frozen
class ReportRow(MoneyStats):
    #: The user or station the row totals (None: sessions of no known user).
    key: str | None = attrs.field(kw_only=True)


_TOTALS = (
    "count(*)::int AS sessions, coalesce(sum(c.exported_wh), 0) AS exported_wh,"
    " coalesce(sum(c.gross_brl), 0) AS gross_brl, coalesce(sum(c.margin_brl), 0) AS margin_brl,"
    " coalesce(sum(c.net_brl), 0) AS net_brl,"
    " coalesce(sum(p.amount_brl) FILTER (WHERE p.state = 'paid'), 0) AS paid_brl,"
    " coalesce(sum(p.amount_brl) FILTER (WHERE p.state IN ('pending', 'sent')), 0)"
    " AS pending_brl,"
    " coalesce(sum(p.amount_brl) FILTER (WHERE p.state = 'failed'), 0) AS failed_brl"
    " FROM v2g_compensations c LEFT JOIN v2g_payouts p ON p.compensation_id = c.id"
    " WHERE (%(user)s::text IS NULL OR c.user_id = %(user)s)"
    " AND (%(station)s::text IS NULL OR c.station_id = %(station)s)"
    " AND (%(since)s::timestamptz IS NULL OR c.session_ended_at >= %(since)s)"
    " AND (%(until)s::timestamptz IS NULL OR c.session_ended_at < %(until)s)"
)


def _filters(
    user_id: str | None,
    station_id: str | None,
    since: dt.datetime | None,
    until: dt.datetime | None,
) -> dict[str, object]:
    return {"user": user_id, "station": station_id, "since": since, "until": until}


def stats(
    conn: Connection,
    *,
    user_id: str | None = None,
    station_id: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> MoneyStats:
    with conn.cursor(row_factory=class_row(MoneyStats)) as cur:
        cur.execute("SELECT " + _TOTALS, _filters(user_id, station_id, since, until))
        row = cur.fetchone()
    assert row is not None
    return row


def report(
    conn: Connection,
    by: Literal["user", "station"],
    *,
    user_id: str | None = None,
    station_id: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> list[ReportRow]:
    """The totals per user or per station, in key order."""
    column = "c.user_id" if by == "user" else "c.station_id"
    with conn.cursor(row_factory=class_row(ReportRow)) as cur:
        cur.execute(
            f"SELECT {column} AS key, " + _TOTALS + f" GROUP BY {column} ORDER BY {column}",
            _filters(user_id, station_id, since, until),
        )
        return cur.fetchall()
