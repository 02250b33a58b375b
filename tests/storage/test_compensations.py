"""Compensations, their intervals and payouts in PostgreSQL (migration 0012): once per session,
the payout written with its compensation, claims that never send a payout twice, statistics."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import psycopg
import pytest

from csms.storage import compensations, connect, payouts, users, v2g_sessions
from csms.storage import stations as station_repo

from .records import T0

MINUTE = dt.timedelta(minutes=1)


@pytest.fixture
def conn(database_url):
    with connect(database_url) as c:
        station_repo.create(c, "CP001", password_hash="sha256$salt$" + "a" * 64)
        users.create_user(c, "maria", "Maria", wallet_id="wallet-maria")
        c.commit()
        yield c


def ended_session(conn, *, user_id: str | None = "maria") -> v2g_sessions.SessionRow:
    row = v2g_sessions.create(
        conn,
        v2g_sessions.NewSession(
            station_id="CP001",
            evse_id=1,
            requested_by="ops",
            target_power_w=Decimal(7000),
            min_soc_percent=Decimal(30),
            ocpp_version="ocpp2.1",
            transaction_id="tx-1",
            user_id=user_id,
        ),
    )
    return v2g_sessions.save(
        conn, row.id, state="completed", started_at=T0, ended_at=T0 + 30 * MINUTE,
        end_reason="soc_floor",
    )  # fmt: skip


def new(session: v2g_sessions.SessionRow, net: str = "7.12") -> compensations.NewCompensation:
    return compensations.NewCompensation(
        session_id=session.id,
        station_id=session.station_id,
        user_id=session.user_id,
        station_group="default",
        price_source="regulated",
        simulated=False,
        exported_wh=Decimal("5201.3"),
        gross_brl=Decimal("8.20"),
        margin_brl=Decimal("8.20") - Decimal(net),
        net_brl=Decimal(net),
        margin_percent=Decimal(10),
        margin_brl_per_kwh=Decimal("0.05"),
        session_started_at=session.started_at,
        session_ended_at=session.ended_at,
    )


INTERVAL = compensations.IntervalRow(
    T0, T0 + 10 * MINUTE, Decimal("1000.4"), Decimal(1), Decimal("1.0004"), "intermediario",
    Decimal("80.00"), "simulated",
)  # fmt: skip


def test_a_compensation_is_recorded_once_per_session_with_its_intervals_and_payout(conn):
    session = ended_session(conn)
    assert [s.id for s in compensations.uncompensated_sessions(conn)] == [session.id]
    row, created = compensations.record(conn, new(session), [INTERVAL])
    assert created
    assert (row.net_brl, row.payout_state) == (Decimal("7.12"), "pending")
    again, created = compensations.record(conn, new(session, net="1.00"), [INTERVAL])
    assert not created
    assert (again.id, again.net_brl) == (row.id, Decimal("7.12"))
    assert compensations.intervals(conn, row.id) == [INTERVAL]
    assert compensations.uncompensated_sessions(conn) == []
    payout = payouts.get(conn, row.id)
    assert (payout.amount_brl, payout.state, payout.attempts) == (Decimal("7.12"), "pending", 0)
    assert payout.idempotency_key == f"v2g-compensation-{row.id}"
    with pytest.raises(psycopg.errors.CheckViolation), conn.transaction():
        compensations.record(conn, new(ended_session(conn), net="9.00"), [])  # net > gross


def test_nothing_to_pay_writes_no_payout(conn):
    row, _ = compensations.record(conn, new(ended_session(conn), net="0"), [])
    assert row.payout_state is None
    assert payouts.get(conn, row.id) is None


def test_a_rolled_back_compensation_leaves_no_payout(conn):
    session = ended_session(conn)
    conn.commit()

    def die_while_computing() -> None:
        with conn.transaction():
            compensations.record(conn, new(session), [INTERVAL])
            raise RuntimeError("the node died while computing")

    with pytest.raises(RuntimeError):
        die_while_computing()
    assert payouts.claim_due(conn, T0 + dt.timedelta(days=1), limit=10, stale_after_s=60) == []


def test_claims_send_each_due_payout_once_and_finish_only_the_claimed_attempt(conn):
    row, _ = compensations.record(conn, new(ended_session(conn)), [INTERVAL])
    now = dt.datetime.now(dt.UTC)
    (claimed,) = payouts.claim_due(conn, now, limit=10, stale_after_s=60)
    assert (claimed.state, claimed.attempts, claimed.wallet_id) == ("sent", 1, "wallet-maria")
    assert claimed.session_id == row.session_id
    # claimed: not due again until its answer is overdue
    assert payouts.claim_due(conn, now, limit=10, stale_after_s=60) == []
    (stale,) = payouts.claim_due(conn, now + 61 * dt.timedelta(seconds=1), limit=10,
                                 stale_after_s=60)  # fmt: skip
    assert stale.attempts == 2
    # the first attempt's late answer is not recorded over the second's
    late = payouts.finish(conn, row.id, attempts=1, state="paid", next_attempt_at=None,
                          paid_at=now, wallet_reference="w-1", error=None)  # fmt: skip
    assert late is None
    paid = payouts.finish(conn, row.id, attempts=2, state="paid", next_attempt_at=None,
                          paid_at=now, wallet_reference="w-1", error=None)  # fmt: skip
    assert (paid.state, paid.wallet_reference) == ("paid", "w-1")
    assert payouts.claim_due(conn, now + dt.timedelta(days=1), limit=10, stale_after_s=60) == []
    assert [p.compensation_id for p in payouts.list_payouts(conn, state="paid")] == [row.id]


def test_export_readings_of_the_session_only(conn):
    session = ended_session(conn)
    rows = [
        # (at, measurand, value, transaction, phase)
        (session.created_at + MINUTE, "Energy.Active.Export.Register", 100, "tx-1", None),
        (session.created_at + MINUTE, "Energy.Active.Export.Register", 100, "tx-1", None),
        (session.created_at + 2 * MINUTE, "Energy.Active.Export.Register", 150, None, None),
        # a TransactionEvent after the first names no EVSE: stored with EVSE 0
        (session.created_at + 3 * MINUTE, "Energy.Active.Export.Register", 160, "tx-1", None),
        (session.created_at + 2 * MINUTE, "Energy.Active.Export.Register", 50, "tx-1", "L1"),
        (session.created_at + 3 * MINUTE, "Energy.Active.Import.Register", 9, "tx-1", None),
        (session.created_at + 4 * MINUTE, "Energy.Active.Export.Register", 170, "tx-9", None),
        (session.created_at - MINUTE, "Energy.Active.Export.Register", 90, "tx-1", None),
    ]
    for n, (at, measurand, value, tx, phase) in enumerate(rows):
        conn.execute(
            "INSERT INTO meter_values (station_id, timestamp, evse_id, transaction_id,"
            " measurand, phase, value) VALUES ('CP001', %s, %s, %s, %s, %s, %s)",
            (at, 0 if n == 3 else 1, tx, measurand, phase, value),
        )
    conn.execute(  # another EVSE's MeterValues
        "INSERT INTO meter_values (station_id, timestamp, evse_id, measurand, value)"
        " VALUES ('CP001', %s, 2, 'Energy.Active.Export.Register', 999)",
        (session.created_at + 5 * MINUTE,),
    )
    session = v2g_sessions.save(conn, session.id, ended_at=session.created_at + 10 * MINUTE)
    assert compensations.export_readings(conn, session) == [
        (session.created_at + MINUTE, 100),
        (session.created_at + 2 * MINUTE, 150),
        (session.created_at + 3 * MINUTE, 160),
    ]


def test_stats_and_report_by_user_and_station(conn):
    a, _ = compensations.record(conn, new(ended_session(conn)), [])
    compensations.record(conn, new(ended_session(conn, user_id=None), net="8.20"), [])
    now = dt.datetime.now(dt.UTC)
    (claimed,) = [p for p in payouts.claim_due(conn, now, limit=10, stale_after_s=60)
                  if p.compensation_id == a.id]  # fmt: skip
    payouts.finish(conn, a.id, attempts=1, state="paid", next_attempt_at=None, paid_at=now,
                   wallet_reference="w", error=None)  # fmt: skip
    total = payouts.stats(conn)
    assert (total.sessions, total.net_brl, total.paid_brl) == (2, Decimal("15.32"), Decimal("7.12"))
    assert total.exported_wh == Decimal("10402.6")
    assert total.pending_brl == Decimal("8.20")  # the other one, claimed (sent)
    assert payouts.stats(conn, user_id="maria").sessions == 1
    assert payouts.stats(conn, since=T0 + dt.timedelta(hours=1)).sessions == 0
    by_user = payouts.report(conn, "user")
    assert [(r.key, r.sessions, r.net_brl) for r in by_user] == [
        ("maria", 1, Decimal("7.12")),
        (None, 1, Decimal("8.20")),
    ]
    assert [(r.key, r.sessions) for r in payouts.report(conn, "station")] == [("CP001", 2)]
    assert claimed.user_id == "maria"
    assert uuid.UUID(str(a.id))
