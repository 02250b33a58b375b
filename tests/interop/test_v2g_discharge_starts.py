"""Discharge starts through REST against a node and an OCPP 2.1 V2X charge point: each refusal
with its stable code (409), the negotiation of a bidirectional mode (202, Q02.FR.05), and the
end of a discharge window."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from csms.services.v2g_preferences import DEFAULT_TIME_ZONE, DischargeWindow

from .v2g_discharge_peer import Rig, is_discharge, rig, setup_database


async def refused(r: Rig, code: str, **body: object) -> None:
    answer = await r.start(powerKw=7, **body)
    assert answer.status_code == 409, answer.text
    assert answer.json()["error"]["code"] == code


async def test_no_active_transaction_is_refused(database_url, admin_env, bridge):
    setup_database(database_url)
    async with rig(database_url, bridge) as r:
        await r.connect()
        await refused(r, "no_active_transaction")


async def test_a_station_not_connected_is_refused(database_url, admin_env, bridge):
    setup_database(database_url)
    async with rig(database_url, bridge) as r:
        await refused(r, "station_not_connected")


async def test_an_ev_without_a_bidirectional_mode_is_refused(database_url, admin_env, bridge):
    setup_database(database_url)
    async with rig(database_url, bridge) as r:
        await r.connect()
        await r.plug_in()
        await r.needs(requested="DC", available=("DC",))
        await refused(r, "ev_not_bidirectional")


async def test_a_user_who_did_not_opt_in_is_refused(database_url, admin_env, bridge):
    setup_database(database_url, opt_in=False)
    async with rig(database_url, bridge) as r:
        await r.connect()
        await r.plug_in()
        # charging unidirectionally (a BPT request would be Rejected, Q01.FR.07), BPT listed
        await r.needs(requested="DC")
        await refused(r, "user_not_opted_in")


async def test_an_ev_at_its_soc_floor_is_refused(database_url, admin_env, bridge):
    setup_database(database_url, min_soc=30)
    async with rig(database_url, bridge) as r:
        await r.connect()
        await r.plug_in(soc=30)
        await r.needs(soc=30)
        await refused(r, "soc_at_floor")
        await refused(r, "soc_at_floor", minSocPercent=50)


async def test_a_station_without_central_setpoint_is_refused(database_url, admin_env, bridge):
    """K01.FR.115: csms never sends an operation mode the station did not list."""
    setup_database(database_url, station_modes=["ChargingOnly"])
    async with rig(database_url, bridge) as r:
        await r.connect(operation_modes="ChargingOnly")
        await r.plug_in()
        await r.needs(requested="DC")  # V2X not allowed here: charging, BPT listed
        await refused(r, "operation_mode_unsupported")
        assert not [
            a for a, kw in r.peer.received if a == "SetChargingProfile" and is_discharge(kw)
        ]


async def test_outside_the_owners_windows_is_refused(database_url, admin_env, bridge):
    local_today = dt.datetime.now(ZoneInfo(DEFAULT_TIME_ZONE)).weekday()
    other_day = DischargeWindow(frozenset({(local_today + 3) % 7}), dt.time(0), dt.time(0))
    setup_database(database_url, windows=(other_day,))
    async with rig(database_url, bridge) as r:
        await r.connect()
        await r.plug_in()
        await r.needs(requested="DC")  # V2X not allowed here: charging, BPT listed
        await refused(r, "outside_discharge_window")


async def test_a_second_session_on_the_evse_is_refused(database_url, admin_env, bridge):
    setup_database(database_url)
    async with rig(database_url, bridge) as r:
        await r.connect()
        await r.plug_in()
        await r.needs()
        first = await r.start(powerKw=7)
        assert first.status_code == 201
        await refused(r, "session_active")


async def test_an_ev_charging_unidirectionally_is_asked_to_renegotiate(
    database_url, admin_env, bridge
):
    """Q02.FR.05: the EV listed DC_BPT but charges in DC: the start sends
    NotifyAllowedEnergyTransfer and answers 202 negotiating; the renegotiated needs bring the
    discharge profile (Q03.FR.01)."""
    setup_database(database_url)
    async with rig(database_url, bridge) as r:
        await r.connect()
        await r.plug_in()
        await r.needs(requested="DC", available=("DC", "DC_BPT"))
        answer = await r.start(powerKw=6)
        assert answer.status_code == 202, answer.text
        assert answer.json()["state"] == "negotiating"
        allowed = await r.command("NotifyAllowedEnergyTransfer")
        assert "DC_BPT" in allowed["allowed_energy_transfer"]
        await r.needs(requested="DC_BPT", available=("DC", "DC_BPT"), profile_follows=False)
        profile = await r.command("SetChargingProfile", is_discharge)
        period = profile["charging_profile"]["charging_schedule"][0]["charging_schedule_period"][0]
        assert (period["operation_mode"], period["setpoint"]) == ("CentralSetpoint", -6000)
        updated = await r.event("v2g.session.updated")
        assert updated.state == "discharging"


async def test_the_end_of_the_discharge_window_ends_the_session(
    database_url, admin_env, bridge, wall_clock
):
    tz = ZoneInfo(DEFAULT_TIME_ZONE)
    now = dt.datetime.now(tz)
    start = (now - dt.timedelta(hours=1)).time().replace(second=0, microsecond=0)
    end = (now + dt.timedelta(minutes=3)).time().replace(second=0, microsecond=0)
    window = DischargeWindow(frozenset(range(7)), start, end)
    setup_database(database_url, windows=(window,))
    async with rig(database_url, bridge) as r:
        await r.connect()
        await r.plug_in()
        await r.needs()
        answer = await r.start(powerKw=7)
        assert answer.status_code == 201, answer.text
        ends_by = dt.datetime.fromisoformat(answer.json()["endsBy"])
        wall_clock.jump((ends_by - dt.datetime.now(dt.UTC)).total_seconds() + 1)
        completed = await r.event("v2g.session.completed")
        assert completed.end_reason == "window_end"
        await r.command("ClearChargingProfile")
