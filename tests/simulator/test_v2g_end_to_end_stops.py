"""More ends of a discharge with the simulator's own V2X station and EV against a real node,
started through REST (SPEC section 6): the start's
duration elapsing, a fault StatusNotification, and the owner's departure energy. Each ends
with the discharge profile cleared (every end restores charging)."""

from __future__ import annotations

from decimal import Decimal

from csms.protocol import Version
from csms.simulator import _commands as cmd
from csms.simulator import open_simulator

from .v2g_end_to_end import (
    E2E_MARKS,
    clock,
    discharging,
    e2e_node,
    export_register,
    first_reading,
    hang_guard,
    meter_tick,
    profile_cleared,
    station_config,
)

__all__ = ["clock"]  # fixtures
pytestmark = E2E_MARKS


async def test_the_duration_elapsing_ends_the_session(database_url, clock):
    """``durationMinutes`` 1: a minute on, the session ends duration_elapsed."""
    async with hang_guard(), e2e_node(database_url) as rig:
        await rig.setup()
        async with open_simulator(station_config(rig.node, Version.V21)) as sim:
            session = await discharging(rig, sim, durationMinutes=1)
            clock.jump(61)
            completed = await rig.event("v2g.session.completed")
            assert (completed.end_reason, completed.state) == ("duration_elapsed", "completed")
            await sim.state.wait_for(lambda: profile_cleared(sim))
            body = await rig.session(session["id"])
            assert (body["state"], body["endReason"]) == ("completed", "duration_elapsed")
            assert sim.state.model.evse(1).power_w > 0
            assert sim.state.errors == []


async def test_a_fault_status_ends_the_session(database_url, clock):
    """A StatusNotification Faulted on the session's EVSE: it fails station_fault."""
    async with hang_guard(), e2e_node(database_url) as rig:
        await rig.setup()
        async with open_simulator(station_config(rig.node, Version.V21)) as sim:
            session = await discharging(rig, sim)
            await sim.ref.ask(cmd.Fault(1), timeout=None)
            completed = await rig.event("v2g.session.completed")
            assert (completed.end_reason, completed.state) == ("station_fault", "failed")
            await sim.state.wait_for(lambda: profile_cleared(sim))
            body = await rig.session(session["id"])
            assert (body["state"], body["endReason"]) == ("failed", "station_fault")
            assert sim.state.errors == []


async def test_the_owners_departure_energy_ends_the_session(database_url, clock):
    """The owner needs 4.5 kWh at departure (floor 30 %): the 10 kWh battery (announced in
    the 2.0.1 customData) ends the session departure_energy at 45 %, above the floor;
    exportedWh is the export register's difference."""
    async with hang_guard(), e2e_node(database_url) as rig:
        await rig.setup(min_soc=30, bidirectional=True, departure_energy_kwh=4.5)
        async with open_simulator(station_config(rig.node, Version.V201)) as sim:
            session = await discharging(rig, sim)
            first = await first_reading(clock, sim)
            while sim.state.model.ev.soc > 45:
                await meter_tick(clock, sim)
            last = export_register(sim)
            completed = await rig.event("v2g.session.completed")
            assert (completed.end_reason, completed.state) == ("departure_energy", "completed")
            await sim.state.wait_for(lambda: profile_cleared(sim))
            body = await rig.session(session["id"])
            assert body["endReason"] == "departure_energy"
            assert Decimal(str(body["exportedWh"])) == last - first
            assert body["lastSoc"] > 30
            assert sim.state.errors == []
