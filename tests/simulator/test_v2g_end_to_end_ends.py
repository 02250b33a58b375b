"""More ends of a V2G discharge, end to end with the simulator's V2X station and EV against a
real node through REST: the station disconnecting past the grace, the owner's discharge window
ending, and a node restarting mid-session (it resumes the session and still ends it cleanly)."""

from __future__ import annotations

import datetime as dt
import socket
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import trio.testing

from csms.protocol import Version
from csms.services.v2g_preferences import DEFAULT_TIME_ZONE
from csms.simulator import Simulator, StationConfig, open_simulator

from .v2g_end_to_end import (
    E2E_MARKS,
    NODE_SETTINGS,
    clock,
    discharging,
    e2e_node,
    export_register,
    first_reading,
    hang_guard,
    meter_tick,
    profile_cleared,
    station_config,
    v2x_ev,
)

__all__ = ["clock"]  # fixtures
pytestmark = E2E_MARKS


async def test_a_station_gone_past_the_grace_fails_the_session(database_url, clock):
    """The station disconnects and stays away longer than v2g.disconnect_grace_s (5 s here):
    the session fails station_disconnected."""
    async with hang_guard(), e2e_node(database_url) as rig:
        await rig.setup()
        async with open_simulator(station_config(rig.node, Version.V21)) as sim:
            session = await discharging(rig, sim)
            await meter_tick(clock, sim)
            gone = rig.node.events.subscribe("station.disconnected")
        await gone.receive.receive()  # the node saw the station go
        rig.node.events.unsubscribe(gone)
        clock.jump(NODE_SETTINGS["v2g.disconnect_grace_s"] + 1)
        completed = await rig.event("v2g.session.completed")
        assert (completed.end_reason, completed.state) == ("station_disconnected", "failed")
        body = await rig.session(session["id"])
        assert (body["state"], body["endReason"]) == ("failed", "station_disconnected")


async def test_the_end_of_the_owners_window_ends_the_session(database_url, clock):
    """The owner allows discharging until a few minutes from now (in the node's time zone):
    the session ends window_end when that time comes and the profile is cleared."""
    now = dt.datetime.now(ZoneInfo(DEFAULT_TIME_ZONE))
    start = (now - dt.timedelta(hours=1)).strftime("%H:%M")
    end = (now + dt.timedelta(minutes=3)).strftime("%H:%M")
    days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    async with hang_guard(), e2e_node(database_url) as rig:
        await rig.setup(windows=[{"days": days, "start": start, "end": end}])
        async with open_simulator(station_config(rig.node, Version.V21)) as sim:
            session = await discharging(rig, sim)
            ends_by = dt.datetime.fromisoformat(session["endsBy"])
            clock.jump((ends_by - dt.datetime.now(dt.UTC)).total_seconds() + 1)
            completed = await rig.event("v2g.session.completed")
            assert (completed.end_reason, completed.state) == ("window_end", "completed")
            await sim.state.wait_for(lambda: profile_cleared(sim))
            assert sim.state.errors == []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.mark.parametrize("version", [Version.V21, Version.V201])
async def test_a_node_restart_mid_session_resumes_it_and_ends_it_cleanly(
    database_url, clock, version
):
    """The node stops while the EV discharges; the next node on the same port resumes the
    session from the database, the station reconnects and is sent the discharge profile again,
    and the SoC floor still ends the session: cleared, exportedWh the register's difference
    across both nodes."""
    port = free_port()
    ev = v2x_ev(min_soc=45.0)  # the EV's own floor is the owner's: no export past it
    async with hang_guard(), trio.open_nursery() as nursery:
        async with e2e_node(database_url, port=port) as first:
            await first.setup(min_soc=45, bidirectional=version is Version.V201)
            sim = await nursery.start(run_simulator, station_config(port, version, ev=ev))
            session = await discharging(first, sim)
            first_export = await first_reading(clock, sim)
        await sim.state.wait_for(lambda: not sim.state.online)
        sent = sim.state.received["SetChargingProfile"]
        async with e2e_node(database_url, port=port) as second:
            await sim.state.wait_for(lambda: sim.state.online)
            await sim.state.wait_for(lambda: sim.state.received["SetChargingProfile"] > sent)
            assert sim.state.model.evse(1).profile_w == -7000  # resumed
            while sim.state.model.ev.soc > 45:
                await meter_tick(clock, sim)
            completed = await second.event("v2g.session.completed")
            assert completed.session_id == session["id"]
            assert (completed.end_reason, completed.state) == ("soc_floor", "completed")
            await sim.state.wait_for(lambda: profile_cleared(sim))
            body = await second.session(session["id"])
            assert Decimal(str(body["exportedWh"])) == export_register(sim) - first_export
            assert body["exportedWh"] > 0
            # while no node listens, the station's connection attempts may fail: only those
            assert [e for e in sim.state.errors if not e.startswith("connection:")] == []
        nursery.cancel_scope.cancel()


async def run_simulator(
    config: StationConfig, *, task_status: trio.TaskStatus[Simulator] = trio.TASK_STATUS_IGNORED
) -> None:
    """The simulated station in a task of its own: it outlives the node it first talks to."""
    async with open_simulator(config) as sim:
        task_status.started(sim)
        await trio.sleep_forever()
