"""The needs schedule end to end (K15.FR.07, K17.FR.07; csms/services/v2g_needs_schedule.py):
a real node answers a 2.1 EV's charge-only needs with a two-period TxProfile (the energy spread
to the departure, then full power), and the simulator's EV follows both periods: its meter
values, as the node stored them, carry the spread power until the boundary, then the full
power, announced at the boundary with TransactionEvent ChargingRateChanged.

Time is trio's MockClock, moved a meter interval at a time; the simulator's clock moves with it.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import trio
import trio.testing

from csms.protocol import Version
from csms.simulator import open_simulator
from csms.simulator._operator import now as sim_now
from csms.storage import connect as db_connect
from csms.storage.transactions import TransactionEventRow, events

from .v2g_end_to_end import (
    E2E_MARKS,
    METER_INTERVAL,
    STATION,
    clock,
    e2e_node,
    hang_guard,
    meter_tick,
    plug_in,
    station_config,
    v2x_ev,
)

__all__ = ["clock"]  # fixtures
pytestmark = E2E_MARKS


def _power(row: TransactionEventRow) -> Decimal:
    values = row.payload["meterValue"][0]["sampledValue"]
    return Decimal(str({v["measurand"]: v["value"] for v in values}["Power.Active.Import"]))


async def test_the_ev_charges_at_the_spread_power_then_at_full_power_after_the_boundary(
    database_url, clock: trio.testing.MockClock
):
    """K15.FR.07: 500 Wh wanted within 15 minutes (10 kWh battery, 50 % to 55 %), charge-only
    (the EV does not ask for its BPT mode): about 2 kW to the departure, then 11 kW."""
    ev = v2x_ev(request_bpt=False, target_soc=55.0, departure_hours=0.25)
    async with hang_guard(), e2e_node(database_url) as rig:
        await rig.setup()
        async with open_simulator(station_config(rig.node, Version.V21, ev=ev)) as sim:
            state = sim.state
            await plug_in(rig, sim)
            evse = state.model.evse(1)
            await state.wait_for(lambda: bool(evse.stack.profiles))
            ((_, schedule),) = evse.stack.profiles.values()
            ((first, spread), (boundary, full)) = schedule.periods
            assert first == 0
            assert spread is not None
            assert full == 11_000
            assert 0 < spread < full
            assert evse.power_w == spread
            assert schedule.start is not None
            switch = schedule.start + dt.timedelta(seconds=boundary)

            while sim_now() + dt.timedelta(seconds=METER_INTERVAL) < switch:
                await meter_tick(clock, sim)
            await state.wait_for(lambda: state.settled)
            # past the boundary, half-way to the next sample: the EV changes its rate there
            next_sample = sim_now() + dt.timedelta(seconds=METER_INTERVAL)
            samples = state.sent["TransactionEvent/MeterValuePeriodic"]
            clock.jump((switch - sim_now() + (next_sample - switch) / 2).total_seconds())
            await state.wait_for(lambda: state.sent["TransactionEvent/ChargingRateChanged"] == 2)
            assert state.sent["TransactionEvent/MeterValuePeriodic"] == samples
            assert evse.power_w == full
            await meter_tick(clock, sim)

            def stored() -> list[TransactionEventRow]:
                with db_connect(rig.database_url) as conn:
                    assert evse.tx_id is not None
                    return events(conn, STATION, evse.tx_id)

            rows = [r for r in await trio.to_thread.run_sync(stored) if r.event_type == "Updated"]
            periodic = [r for r in rows if r.trigger_reason == "MeterValuePeriodic"]
            before = [_power(r) for r in periodic if r.timestamp < switch]
            periodic_after = [r for r in periodic if r.timestamp >= switch]
            after = [_power(r) for r in periodic_after]
            assert len(before) >= 10
            assert set(before) == {Decimal(str(spread))}
            assert len(after) >= 1
            assert set(after) == {Decimal(str(full))}
            # the profile's arrival, then the boundary, each a rate change (2.1)
            changes = [r for r in rows if r.trigger_reason == "ChargingRateChanged"]
            assert [_power(r) for r in changes] == [Decimal(str(spread)), Decimal(str(full))]
            assert changes[0].timestamp < switch <= changes[1].timestamp
            # reported as the boundary was passed, before the next periodic sample
            assert changes[1].timestamp < min(r.timestamp for r in periodic_after)
