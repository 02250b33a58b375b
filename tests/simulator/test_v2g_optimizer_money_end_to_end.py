"""The V2G capability end to end (SPEC section 6): an opted-in owner's OCPP 2.1 EV plugs in
before the ponta, the node's optimizer discharges it during the ponta and the session stops at
the owner's floor, the session's compensation is recorded and it is paid once to the owner's
wallet, a fake wallet on loopback that loses its first answer.

One real node (REST, PostgreSQL, the optimizer on its schedule, the money actor), the
simulator's own V2X station, trio's MockClock. The optimizer's clock is anchored on a working
Tuesday at 16:30 in Sao Paulo (CEMIG's ponta is 17:00-20:00), moving with trio's clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
import trio
import trio.testing

from csms.actors.optimizer import REQUESTED_BY, Optimize, ask_optimizer
from csms.protocol import Version
from csms.simulator import open_simulator

from ..actors.fake_wallet import FakeWallet, running_fake_wallet
from .v2g_end_to_end import (
    E2E_MARKS,
    USER,
    clock,
    export_register,
    hang_guard,
    plug_in,
    station_config,
    v2x_ev,
)
from .v2g_optimizer_rig import ANCHOR, NAME, PONTA_START, anchored_clock, optimizer_node, tick

__all__ = ["clock"]  # fixtures
pytestmark = E2E_MARKS

WALLET = "wallet-maria"


@pytest.fixture
async def wallet(nursery: trio.Nursery) -> AsyncIterator[FakeWallet]:
    async for fake in running_fake_wallet(nursery, fail_first=True):
        yield fake


def wallet_settings(wallet: FakeWallet) -> dict[str, object]:
    """The money actor pays ``wallet`` at once, retrying without a wait."""
    return {
        "v2g.wallet.url": wallet.base_url,
        "v2g.wallet.backoff_s": 0,
        "v2g.wallet.interval_s": 0,
        "v2g.compensation.margin_percent": 10,
    }


async def test_an_opted_in_ev_discharges_in_the_ponta_to_its_floor_and_is_paid_once(
    database_url, clock: trio.testing.MockClock, wallet: FakeWallet
):
    now = anchored_clock()
    async with (
        hang_guard(),
        optimizer_node(database_url, now=now, settings=wallet_settings(wallet)) as rig,
    ):
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
