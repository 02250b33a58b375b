"""V2G discharge end to end with the simulator's own V2X station and EV (OCPP 2.1 and 2.0.1)
against a real node over real WebSockets, driven through the REST API (SPEC section 6).

Each test waits on what the node published (``v2g.session.*``), on what the station was sent
or had acknowledged, or on the EV's state; trio's clock stands still unless a test moves it
(v2g_end_to_end.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest
import trio.testing

from csms.protocol import Version
from csms.simulator import Simulator, open_simulator
from csms.simulator import _commands as cmd

from .v2g_end_to_end import (
    E2E_MARKS,
    STATION,
    USER,
    Rig,
    clock,
    discharge_running,
    discharging,
    e2e_node,
    export_register,
    first_reading,
    hang_guard,
    meter_tick,
    plug_in,
    profile_cleared,
    station_config,
    v2x_ev,
)

__all__ = ["clock"]  # fixtures
pytestmark = E2E_MARKS


async def down_to_the_floor(
    rig: Rig, sim: Simulator, clock: trio.testing.MockClock, floor: float
) -> tuple[Decimal, Decimal]:
    """Meter intervals pass until the EV's SoC is at or below ``floor``; the export register
    of the first sample the node took for the session, and of the last."""
    first = await first_reading(clock, sim)
    while sim.state.model.ev.soc > floor:
        await meter_tick(clock, sim)
    return first, export_register(sim)


async def floor_end_to_end(
    database_url: str, clock: trio.testing.MockClock, version: Version
) -> tuple[dict, Decimal]:
    """A discharge from REST to the SoC floor; the session as REST shows it after, and the
    export register's difference over the session's meter values."""
    async with hang_guard(), e2e_node(database_url) as rig:
        await rig.setup(min_soc=45, bidirectional=version is Version.V201)
        config = station_config(rig.node, version, ev=v2x_ev(min_soc=45.0))
        async with open_simulator(config) as sim:
            session = await discharging(rig, sim)
            assert (session["stationId"], session["userId"]) == (STATION, USER)
            first, last = await down_to_the_floor(rig, sim, clock, 45)
            completed = await rig.event("v2g.session.completed")
            assert (completed.end_reason, completed.state) == ("soc_floor", "completed")
            await sim.state.wait_for(lambda: profile_cleared(sim))
            assert sim.state.received["ClearChargingProfile"] == 1
            assert export_register(sim) == last  # nothing exported after the floor
            await meter_tick(clock, sim)
            assert export_register(sim) == last
            assert sim.state.model.evse(1).power_w > 0
            body = await rig.session(session["id"])
            assert sim.state.errors == []
    return body, last - first


async def test_a_21_discharge_from_rest_stops_at_the_soc_floor(database_url, clock):
    """Q01/Q03 with the simulator's 2.1 EV (AC_BPT, CentralSetpoint): started through REST,
    the EV exports at the setpoint, its meter values reach the session, the owner's floor ends
    it, the discharge profile is cleared and exportedWh is the export register's difference."""
    body, exported = await floor_end_to_end(database_url, clock, Version.V21)
    assert (body["state"], body["endReason"]) == ("completed", "soc_floor")
    assert Decimal(str(body["exportedWh"])) == exported
    assert exported > 0
    assert body["startSoc"] == 50
    assert body["lastSoc"] <= 45


async def test_a_201_discharge_by_the_custom_data_convention(database_url, clock):
    """OCPP 2.0.1 (docs/V2G.md): a station registered bidirectional through REST, the EV's
    discharge limits in the needs' customData, a negative limit; the same end to end."""
    body, exported = await floor_end_to_end(database_url, clock, Version.V201)
    assert (body["state"], body["endReason"]) == ("completed", "soc_floor")
    assert Decimal(str(body["exportedWh"])) == exported
    assert exported > 0


@pytest.mark.parametrize("version", [Version.V21, Version.V201])
async def test_an_operator_stop_ends_the_session_and_clears_the_profile(
    database_url, clock, version
):
    async with discharge_running(database_url, clock, version) as (rig, sim, session):
        first = rig.first_export
        await meter_tick(clock, sim)
        last = export_register(sim)  # the last sample the session gets
        stopped = await rig.api.post(
            "/api/v1/v2g/discharge/stop", json={"sessionId": session["id"]}
        )
        assert stopped.status_code == 200, stopped.text
        completed = await rig.event("v2g.session.completed")
        assert (completed.end_reason, completed.state) == ("operator_stop", "completed")
        await sim.state.wait_for(lambda: profile_cleared(sim))
        body = await rig.session(session["id"])
        assert Decimal(str(body["exportedWh"])) == last - first
        assert sim.state.model.evse(1).tx_id is not None  # the EV stays plugged in
        assert sim.state.errors == []


async def test_the_ev_unplugging_ends_the_session(database_url, clock):
    """The transaction ends (the EV is unplugged): the session ends transaction_ended, with no
    profile left to clear."""
    async with discharge_running(database_url, clock, Version.V21) as (rig, sim, session):
        await sim.ref.ask(cmd.StopCharging(1), timeout=None)
        completed = await rig.event("v2g.session.completed")
        assert completed.end_reason == "transaction_ended"
        body = await rig.session(session["id"])
        assert body["endReason"] == "transaction_ended"
        assert body["endedAt"] is not None
        assert sim.state.model.evse(1).tx_id is None
        assert sim.state.errors == []


async def test_a_profile_the_station_rejects_fails_the_session(database_url, clock):
    """The station's V2XChargingCtrlr.SupportedOperationModes no longer lists CentralSetpoint
    when the discharge profile arrives (K01.FR.115, InvalidOperationMode): the session fails
    profile_rejected and the EV keeps charging."""
    async with hang_guard(), e2e_node(database_url) as rig:
        await rig.setup()
        async with open_simulator(station_config(rig.node, Version.V21)) as sim:
            await plug_in(rig, sim)
            sim.state.model.device.values["V2XChargingCtrlr", "SupportedOperationModes"] = (
                "ChargingOnly"
            )
            started = await rig.start(powerKw=7)
            assert started.status_code in (201, 202), started.text
            completed = await rig.event("v2g.session.completed")
            assert (completed.end_reason, completed.state) == ("profile_rejected", "failed")
            evse = sim.state.model.evse(1)
            assert evse.profile_w is None or evse.profile_w > 0
            await meter_tick(clock, sim)
            assert export_register(sim) == 0
            assert sim.state.model.evse(1).power_w > 0
            assert sim.state.errors == []
