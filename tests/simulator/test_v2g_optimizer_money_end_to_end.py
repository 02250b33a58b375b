"""The V2G capability end to end (SPEC section 6): an opted-in owner's OCPP 2.1 EV plugs in
before the ponta, the node's optimizer discharges it during the ponta and the session stops at
the owner's floor, the session's compensation is recorded and it is paid once to the owner's
wallet, a fake wallet on loopback that loses its first answer.

One real node (REST, PostgreSQL, the optimizer on its schedule, the money actor), the
simulator's own V2X station, trio's MockClock. The optimizer's clock is anchored on a working
Tuesday at 16:30 in Sao Paulo (CEMIG's ponta is 17:00-20:00), moving with trio's clock.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Callable
from decimal import Decimal

import pytest
import trio
import trio.testing

from csms.actors.optimizer import REQUESTED_BY, Optimize, ask_optimizer, optimizer_capability
from csms.protocol import Version
from csms.simulator import Simulator, open_simulator

from ..actors.fake_wallet import FakeWallet, running_fake_wallet
from ..api.conftest import api_node, client
from .v2g_end_to_end import (
    E2E_MARKS,
    NODE_SETTINGS,
    USER,
    Rig,
    clock,
    export_register,
    hang_guard,
    meter_tick,
    plug_in,
    station_config,
    v2x_ev,
)

__all__ = ["clock"]  # fixtures
pytestmark = E2E_MARKS

NAME = "v2g_optimizer_under_test"
SP = dt.timezone(dt.timedelta(hours=-3))
ANCHOR = dt.datetime(2026, 3, 3, 16, 30, tzinfo=SP)  # Tuesday, half an hour before the ponta
PONTA_START = dt.datetime(2026, 3, 3, 17, tzinfo=SP)
WALLET = "wallet-maria"


@pytest.fixture
async def wallet(nursery: trio.Nursery) -> AsyncIterator[FakeWallet]:
    async for fake in running_fake_wallet(nursery, fail_first=True):
        yield fake


def anchored_clock() -> Callable[[], dt.datetime]:
    """UTC time from ``ANCHOR``, moving with trio's clock."""
    t0 = trio.current_time()
    return lambda: (ANCHOR + dt.timedelta(seconds=trio.current_time() - t0)).astimezone(dt.UTC)


@contextlib.asynccontextmanager
async def whole_node(
    database_url: str, wallet: FakeWallet, now: Callable[[], dt.datetime]
) -> AsyncIterator[Rig]:
    """A node with the optimizer on its schedule (its clock ``now``) and the money actor paying
    ``wallet``."""
    optimizer = optimizer_capability(NAME, now, enabled=True, interval_s=300.0)
    settings = {
        **NODE_SETTINGS,
        "ocpp.port": 0,
        "v2g.wallet.url": wallet.base_url,
        "v2g.wallet.backoff_s": 0,
        "v2g.wallet.interval_s": 0,
        "v2g.compensation.margin_percent": 10,
    }
    async with (
        api_node(
            database_url, extra_children=(optimizer.child,), routes=(optimizer.routes,), **settings
        ) as node,
        client(node) as api,
    ):
        events = node.events.subscribe("v2g.")
        try:
            yield Rig(node, api, events, database_url)
        finally:
            node.events.unsubscribe(events)


async def tick(clock: trio.testing.MockClock, sim: Simulator) -> None:
    await sim.state.wait_for(lambda: sim.state.settled)
    await meter_tick(clock, sim)


async def test_an_opted_in_ev_discharges_in_the_ponta_to_its_floor_and_is_paid_once(
    database_url, clock: trio.testing.MockClock, wallet: FakeWallet
):
    now = anchored_clock()
    async with hang_guard(), whole_node(database_url, wallet, now) as rig:
        await rig.setup(min_soc=45, wallet_id=WALLET)
        async with open_simulator(station_config(rig.node, Version.V21, ev=v2x_ev())) as sim:
            # plugged in before the ponta: the optimizer plans the ponta's first hour
            await plug_in(rig, sim)
            await tick(clock, sim)  # the EV's SoC is known
            before = export_register(sim)  # nothing exported yet
            planned = await ask_optimizer(rig.node.root, Optimize(dry_run=True), timeout=60,
                                          name=NAME)  # fmt: skip
            (plan,) = planned.plans
            assert [i.start for i in plan.intervals] == [PONTA_START]
            assert (await rig.api.get("/api/v1/v2g/sessions")).json()["items"] == []

            # the ponta begins: the optimizer's scheduled run starts the discharge
            await sim.state.wait_for(lambda: sim.state.settled)
            clock.jump((PONTA_START - ANCHOR).total_seconds())
            started = await rig.event("v2g.session.started")
            assert (started.station_id, started.user_id) == ("V2GSIM1", USER)
            while (await rig.event("v2g.session.updated")).state != "discharging":
                pass
            assert sim.state.model.evse(1).profile_w is not None
            assert sim.state.model.evse(1).profile_w < 0

            # it stops at the owner's floor
            while sim.state.model.ev.soc > 45:
                await tick(clock, sim)
            floor_reached = export_register(sim)
            completed = await rig.event("v2g.session.completed")
            assert (completed.session_id, completed.end_reason) == (started.session_id,
                                                                    "soc_floor")  # fmt: skip
            assert PONTA_START < now() < PONTA_START + dt.timedelta(hours=3)  # in the ponta

            # its compensation is recorded and paid
            recorded = await rig.event("v2g.compensation.recorded")
            paid = await rig.event("v2g.payout.paid")
            await tick(clock, sim)  # time goes on: nothing is recorded, paid or started again
            stopped = export_register(sim)  # the discharge has stopped since
            assert sim.state.errors == []

        session = await rig.session(started.session_id)
        assert session["requestedBy"] == REQUESTED_BY
        assert session["lastSoc"] <= 45
        assert recorded.session_id == started.session_id
        # the register's rise over the session: at least to the reading at the floor, at most
        # to where the discharge stopped; the session's own count starts at its first reading,
        # which may come a moment after the discharge began
        exported = Decimal(recorded.exported_kwh) * 1000
        assert floor_reached - before <= exported <= stopped - before
        assert 0 < Decimal(str(session["exportedWh"])) <= exported
        gross, margin, net = (Decimal(x) for x in (recorded.gross_rs, recorded.margin_rs,
                                                   recorded.net_rs))  # fmt: skip
        assert net == gross - margin > 0
        # the wallet's first answer was lost: the retry carried the same key and paid no more
        assert (paid.compensation_id, paid.amount_rs, paid.attempts) == (
            recorded.compensation_id, recorded.net_rs, 2,
        )  # fmt: skip
        key = f"v2g-compensation-{recorded.compensation_id}"
        assert [k for k, _ in wallet.requests] == [key, key]
        assert [(p.wallet_id, p.amount) for p in wallet.payments] == [(WALLET, net)]
        items = (await rig.api.get("/api/v1/v2g/compensations")).json()["items"]
        assert [(i["sessionId"], i["payoutState"]) for i in items] == [(started.session_id, "paid")]
        # a later run, the EV at its floor: no second discharge, nothing more to pay
        after = await ask_optimizer(rig.node.root, Optimize(), timeout=60, name=NAME)
        assert [(p.reason, after.outcomes) for p in after.plans] == [("at_floor", ())]
        sessions = (await rig.api.get("/api/v1/v2g/sessions")).json()["items"]
        assert [s["id"] for s in sessions] == [started.session_id]
        assert len(wallet.payments) == 1
