"""The V2G optimizer end to end (SPEC section 6): an opted-in owner's OCPP 2.1 EV (the
simulator's own V2X station) plugs in before the ponta; the node's optimizer, on its schedule
and driven by trio's MockClock, plans its discharge in the ponta, starts the session there
through the V2G sessions, and the session stops at the owner's SoC floor; later runs start
nothing more.

The optimizer under test is the node's optimizer with a clock anchored on a working Tuesday at
16:30 in Sao Paulo (the Tarifa Branca's ponta is CEMIG's 17:00-20:00); the wall clock of the
machine plays no part in what it plans.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import trio
import trio.testing

from csms.actors.optimizer import REQUESTED_BY, Optimize, ask_optimizer
from csms.protocol import Version
from csms.services.grid_price_book import GridPriceBook, MarketQuery
from csms.services.grid_price_settings import parse_grid_price_settings
from csms.services.v2g_optimizer_run import OptimizerRun
from csms.simulator import open_simulator

from .v2g_end_to_end import (
    E2E_MARKS,
    USER,
    Rig,
    clock,
    hang_guard,
    plug_in,
    station_config,
    v2x_ev,
)
from .v2g_optimizer_rig import ANCHOR, NAME, PONTA_START, jump, optimizer_node, tick

__all__ = ["clock"]  # fixtures
pytestmark = E2E_MARKS


def ponta_only() -> Decimal:
    """A spread over the day's cheapest hour that only the ponta's price beats."""
    book = GridPriceBook(parse_grid_price_settings({}), ZoneInfo("America/Sao_Paulo"))
    prices = sorted({h.retail_rs_per_kwh for h in book.forecast(MarketQuery(), ANCHOR, 24)})
    cheapest, intermediario, ponta = prices[0], prices[-2], prices[-1]
    return (intermediario + ponta) / 2 - cheapest


async def optimize(rig: Rig, **request) -> OptimizerRun:
    return await ask_optimizer(rig.node.root, Optimize(**request), timeout=60, name=NAME)


async def test_an_ev_plugged_in_before_the_ponta_discharges_in_it_down_to_the_floor(
    database_url, clock: trio.testing.MockClock
):
    async with hang_guard(), optimizer_node(database_url) as rig:
        await rig.setup(min_soc=45)
        # 10 kWh at 50 %: the EV offers 4 kWh above its own 10 %; its owner's floor is 45 %
        config = station_config(rig.node, Version.V21, ev=v2x_ev())
        async with open_simulator(config) as sim:
            await plug_in(rig, sim)
            await tick(clock, sim)  # the EV's SoC is known

            before = await optimize(rig, dry_run=True)
            (plan,) = before.plans
            (interval,) = plan.intervals  # the first ponta hour takes the 4 kWh
            assert interval.start == PONTA_START
            assert interval.end == PONTA_START + dt.timedelta(hours=1)
            assert interval.power_w == Decimal(4000)
            assert plan.due(before.at) is None
            assert (await rig.api.get("/api/v1/v2g/sessions")).json()["items"] == []

            # the ponta begins: the scheduled run starts the session
            await jump(clock, sim, (PONTA_START - ANCHOR).total_seconds())
            started = await rig.event("v2g.session.started")
            assert (started.station_id, started.user_id) == ("V2GSIM1", USER)
            while (await rig.event("v2g.session.updated")).state != "discharging":
                pass
            body = await rig.session(started.session_id)
            # the 4 kWh over what is left of the hour when the run came (seconds after 17:00)
            assert 4 < body["requestedPowerKw"] < 4.1
            assert sim.state.model.evse(1).profile_w == round(-body["requestedPowerKw"] * 1000, 3)

            while sim.state.model.ev.soc > 45:
                await tick(clock, sim)
            completed = await rig.event("v2g.session.completed")
            assert (completed.end_reason, completed.state) == ("soc_floor", "completed")

            body = await rig.session(started.session_id)
            assert body["requestedBy"] == REQUESTED_BY
            assert body["lastSoc"] <= 45
            assert body["exportedWh"] > 0

            # later runs: at the floor, nothing more
            await jump(clock, sim, 600)
            after = await optimize(rig)
            (plan,) = after.plans
            assert (plan.reason, after.outcomes) == ("at_floor", ())
            sessions = (await rig.api.get("/api/v1/v2g/sessions")).json()["items"]
            assert [s["id"] for s in sessions] == [started.session_id]
            assert sim.state.errors == []


async def test_the_optimizer_stops_its_session_where_the_plan_ends(
    database_url, clock: trio.testing.MockClock
):
    """At the owner's 1 kW the 4 kWh on offer outlast the ponta, the only hours worth it here:
    the plan holds 17:00-20:00, and the scheduled run at 20:00 stops the session above the
    floor."""
    async with (
        hang_guard(),
        optimizer_node(database_url, min_spread_rs_per_kwh=ponta_only()) as rig,
    ):
        await rig.setup(min_soc=15)
        prefs = {"userId": USER, "optIn": True, "minSocPercent": 15, "maxDischargeKw": 1}
        r = await rig.api.post("/api/v1/v2g/preferences", json=prefs)
        assert r.is_success, r.text
        async with open_simulator(station_config(rig.node, Version.V21, ev=v2x_ev())) as sim:
            await plug_in(rig, sim)
            await tick(clock, sim)
            (plan,) = (await optimize(rig, dry_run=True)).plans
            ponta_end = PONTA_START + dt.timedelta(hours=3)
            assert [(i.start, i.end, i.power_w) for i in plan.intervals] == [
                (PONTA_START, ponta_end, Decimal(1000))
            ]
            await jump(clock, sim, (PONTA_START - ANCHOR).total_seconds())
            started = await rig.event("v2g.session.started")
            while (await rig.event("v2g.session.updated")).state != "discharging":
                pass
            await jump(clock, sim, 3 * 3600)
            completed = await rig.event("v2g.session.completed")
            assert completed.session_id == started.session_id
            assert completed.end_reason == "operator_stop"
            assert sim.state.model.ev.soc > 15
            body = await rig.session(started.session_id)
            assert body["requestedBy"] == REQUESTED_BY
            assert sim.state.errors == []
