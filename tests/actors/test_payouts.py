"""The money actor (csms/actors/payouts) on PostgreSQL with a fake wallet on loopback: a
compensation per completed session, once; the catch-up at start; payouts that never pay twice;
refusals; bounded concurrency."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from zoneinfo import ZoneInfo

import attrs
import pytest
import trio

from csms.actors import DatabasePool
from csms.actors.events import EventBus
from csms.actors.payouts import (
    MoneyActor,
    MoneyConfig,
    RunPayouts,
    Sweep,
    WalletClient,
    ask_money,
    record_session,
)
from csms.domain.events import V2GSessionCompleted
from csms.runtime import ChildSpec, Strategy, Supervisor
from csms.services.compensation import parse_compensation_settings
from csms.services.grid_price_settings import parse_grid_price_settings
from csms.services.payout import parse_wallet_settings
from csms.storage import compensations as repo
from csms.storage import connect, payouts, users, v2g_sessions
from csms.storage import stations as station_repo

from .fake_wallet import running_fake_wallet

SP = ZoneInfo("America/Sao_Paulo")
# Wednesday 10 June 2026, CEMIG (ponta 17-20h): 16:40-17:30 local crosses the ponta's start
T0 = dt.datetime(2026, 6, 10, 16, 40, tzinfo=SP)
MINUTE = dt.timedelta(minutes=1)
CONTRACT = {"kind": "contract", "ponta": 2, "intermediario": 1, "fora_ponta": "0.5"}


def config(wallet_url: str = "", **wallet: object) -> MoneyConfig:
    return MoneyConfig(
        grid=parse_grid_price_settings({"sources": {"default": CONTRACT}}),
        tz=SP,
        compensation=parse_compensation_settings(
            {"margin_percent": 10, "margin_rs_per_kwh": "0.05", "sweep_interval_s": 3600}
        ),
        wallet=parse_wallet_settings(
            {"url": wallet_url, "backoff_s": 0, "interval_s": 0, **wallet}
        ),
    )


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[DatabasePool]:
    with connect(database_url) as conn:
        station_repo.create(conn, "CP001", password_hash="sha256$salt$" + "a" * 64)
        users.create_user(conn, "maria", "Maria", wallet_id="wallet-maria")
        users.create_user(conn, "joao", "João", wallet_id="wallet-joao")
        users.create_user(conn, "ana", "Ana")  # no wallet
    database = DatabasePool(database_url, size=2)
    try:
        yield database
    finally:
        database.close()


def ended_session(database_url: str, user_id: str = "maria") -> v2g_sessions.SessionRow:
    """A session that discharged 16:40-17:30 local, its export register read four times:
    1000.4 Wh intermediário, 2400.5 Wh across 17:00, 1800.4 Wh ponta (as in
    tests/services/test_compensation.py): R$ 2.20065 + 6.0013 = 8.20 gross, 1.08 margin."""
    with connect(database_url) as conn:
        row = v2g_sessions.create(
            conn,
            v2g_sessions.NewSession(
                station_id="CP001", evse_id=1, requested_by="ops", target_power_w=Decimal(7000),
                min_soc_percent=Decimal(30), ocpp_version="ocpp2.1", transaction_id="tx-1",
                user_id=user_id,
            ),
        )  # fmt: skip
        conn.execute("UPDATE v2g_sessions SET created_at = %s WHERE id = %s", (T0, row.id))
        for minutes, wh in ((0, "10000.0"), (10, "11000.4"), (30, "13400.9"), (50, "15201.3")):
            conn.execute(
                "INSERT INTO meter_values (station_id, timestamp, evse_id, transaction_id,"
                " measurand, value) VALUES ('CP001', %s, 1, 'tx-1',"
                " 'Energy.Active.Export.Register', %s)",
                (T0 + minutes * MINUTE, Decimal(wh)),
            )
        return v2g_sessions.save(
            conn, row.id, state="completed", started_at=T0, ended_at=T0 + 50 * MINUTE,
            end_reason="soc_floor", export_first_wh=Decimal("10000.0"),
            export_last_wh=Decimal("15201.3"), energy_exported_wh=Decimal("5201.3"),
        )  # fmt: skip


def completed(session: v2g_sessions.SessionRow) -> V2GSessionCompleted:
    assert session.ended_at is not None
    return V2GSessionCompleted(
        session_id=str(session.id), station_id=session.station_id, evse_id=1,
        transaction_id="tx-1", user_id=session.user_id, state="completed",
        end_reason="soc_floor", started_at=session.started_at, ended_at=session.ended_at,
        exported_wh=float(session.energy_exported_wh), start_soc=None, last_soc=None,
    )  # fmt: skip


async def started(
    nursery: trio.Nursery, pool: DatabasePool, bus: EventBus, money: MoneyConfig
) -> Supervisor:
    wallet = money.wallet

    def client() -> WalletClient:
        return WalletClient(wallet.url, timeout=60, connections=wallet.concurrency)

    def make() -> MoneyActor:
        return MoneyActor(
            database=pool, events=bus, config=money, wallet=client if wallet.url else None
        )

    root = Supervisor(Strategy.ONE_FOR_ONE, [ChildSpec.actor("v2g_money", make)], name="node")
    await nursery.start(root.run)
    return root


async def next_event(feed, subject: str):
    with trio.fail_after(30):  # a hang guard
        async for event in feed:
            if event.subject == subject:
                return event
    raise AssertionError("the feed ended")


def one_compensation(database_url: str, session_id: uuid.UUID) -> repo.CompensationRow:
    with connect(database_url) as conn:
        count = conn.execute(
            "SELECT count(*) FROM v2g_compensations WHERE session_id = %s", (session_id,)
        ).fetchone()
        assert count == (1,)
        row = repo.by_session(conn, session_id)
    assert row is not None
    return row


async def test_a_completed_session_is_compensated_once_and_paid_once_despite_a_lost_answer(
    nursery: trio.Nursery, pool: DatabasePool, database_url: str
) -> None:
    """The wallet pays on the first attempt but its answer is lost (503): the retry carries
    the same idempotency key, so the owner is paid once."""
    async for wallet in running_fake_wallet(nursery, fail_first=True):
        bus = EventBus("node-1")
        feed = bus.subscribe("v2g.")
        root = await started(nursery, pool, bus, config(wallet.base_url))
        session = ended_session(database_url)
        bus.publish(completed(session))
        recorded = await next_event(feed, "v2g.compensation.recorded")
        assert (recorded.gross_rs, recorded.margin_rs, recorded.net_rs) == ("8.20", "1.08", "7.12")
        assert recorded.exported_kwh == "5.2013"
        assert recorded.price_source == "contract"
        paid = await next_event(feed, "v2g.payout.paid")
        assert (paid.amount_rs, paid.attempts, paid.wallet_id) == ("7.12", 2, "wallet-maria")
        assert paid.wallet_reference == "pay-000001"
        keys = {key for key, _ in wallet.requests}
        assert len(wallet.requests) == 2
        assert keys == {f"v2g-compensation-{recorded.compensation_id}"}
        assert [(p.wallet_id, p.amount) for p in wallet.payments] == [
            ("wallet-maria", Decimal("7.12"))
        ]
        # the same event again (another node's, a replay) and a sweep record nothing more
        bus.publish(completed(session))
        assert await ask_money(root, Sweep()) == 0
        row = one_compensation(database_url, session.id)
        assert (row.net_brl, row.payout_state) == (Decimal("7.12"), "paid")
        with connect(database_url) as conn:
            assert len(repo.intervals(conn, row.id)) == 4
        run = await ask_money(root, RunPayouts())
        assert run.claimed == 0
        assert len(wallet.payments) == 1


async def test_sessions_that_ended_while_the_node_was_down_are_compensated_at_start(
    nursery: trio.Nursery, pool: DatabasePool, database_url: str
) -> None:
    session = ended_session(database_url)
    bus = EventBus("node-1")
    feed = bus.subscribe("v2g.")
    await started(nursery, pool, bus, config())  # no wallet URL: payouts wait, pending
    recorded = await next_event(feed, "v2g.compensation.recorded")
    assert recorded.session_id == str(session.id)
    assert one_compensation(database_url, session.id).payout_state == "pending"


async def test_refused_and_walletless_payouts_fail_and_are_not_retried(
    nursery: trio.Nursery, pool: DatabasePool, database_url: str
) -> None:
    async for wallet in running_fake_wallet(nursery, refuse={"wallet-joao"}):
        joao, ana = ended_session(database_url, "joao"), ended_session(database_url, "ana")
        bus = EventBus("node-1")
        feed = bus.subscribe("v2g.payout.")
        await started(nursery, pool, bus, config(wallet.base_url))
        failures = {}
        for _ in range(2):
            event = await next_event(feed, "v2g.payout.failed")
            failures[event.session_id] = (event.error, event.attempts)
        assert failures == {str(joao.id): ("HTTP 422", 1), str(ana.id): ("no_wallet", 1)}
        assert len(wallet.requests) == 1  # ana's was never sent: no wallet
        assert wallet.payments == []


async def test_a_wallet_outage_is_retried_by_itself_with_backoff_then_fails_for_good(
    nursery: trio.Nursery, pool: DatabasePool, database_url: str
) -> None:
    """Transient failures (503) are retried without anyone asking, with the same key, until
    ``max_attempts``; the payout then ends failed (``v2g.payout.failed``) and is not sent again
    until an operator retries it."""
    async for wallet in running_fake_wallet(nursery, down=True):
        session = ended_session(database_url)
        bus = EventBus("node-1")
        feed = bus.subscribe("v2g.payout.")
        root = await started(nursery, pool, bus, config(wallet.base_url, max_attempts=3))
        failed = await next_event(feed, "v2g.payout.failed")
        assert (failed.session_id, failed.attempts, failed.error) == (str(session.id), 3,
                                                                      "HTTP 503")  # fmt: skip
        key = f"v2g-compensation-{failed.compensation_id}"
        assert [k for k, _ in wallet.requests] == [key] * 3
        assert (await ask_money(root, RunPayouts())).claimed == 0  # failed for good
        assert len(wallet.requests) == 3
        assert wallet.payments == []
        # the operator's retry, once the wallet is back: paid under the same key
        wallet.down = False
        with connect(database_url) as conn:
            assert payouts.retry(conn, uuid.UUID(failed.compensation_id)) is not None
        run = await ask_money(root, RunPayouts())
        assert (run.claimed, run.paid) == (1, 1)
        assert [p.key for p in wallet.payments] == [key]


async def test_a_batch_is_paid_with_bounded_concurrency(
    nursery: trio.Nursery, pool: DatabasePool, database_url: str
) -> None:
    """Six compensations recorded before the node starts: its first run claims them all and
    has at most two requests at the wallet at once (the wallet holds each until released)."""
    money = config(concurrency=2)
    with connect(database_url) as conn:
        for _ in range(6):
            record_session(conn, money, ended_session(database_url))
        conn.commit()
    async for wallet in running_fake_wallet(nursery, hold=True):
        bus = EventBus("node-1")
        feed = bus.subscribe("v2g.payout.paid")
        await started(nursery, pool, bus, attrs.evolve(money, wallet=attrs.evolve(
            money.wallet, url=wallet.base_url)))  # fmt: skip
        for paid in range(6):
            await wallet.wait_held(min(2, 6 - paid))
            assert wallet.max_held <= 2
            wallet.release_one()
            await next_event(feed, "v2g.payout.paid")
        assert wallet.max_held == 2
        with connect(database_url) as conn:
            assert {p.state for p in payouts.list_payouts(conn)} == {"paid"}
        assert len(wallet.payments) == 6
