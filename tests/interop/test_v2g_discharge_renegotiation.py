"""Fresh charging needs while a discharge runs (K16.FR.12, K17.FR.07): the station gets a
profile for them, and it is the session's discharge, not a charging profile that would end
the discharge behind the session's back; on 2.1 (Dynamic CentralSetpoint) and on 2.0.1 (the
negative-limit convention, docs/V2G.md), with `ocpp`-package charge points and a real node."""

from __future__ import annotations

from typing import Any

from .test_v2g_discharge import discharging, discharging_201, is_discharge
from .v2g_discharge_peer import rig, setup_database


def first_period(profile: dict[str, Any]) -> dict[str, Any]:
    return profile["charging_profile"]["charging_schedule"][0]["charging_schedule_period"][0]


async def profiles_for_fresh_needs(r: Any, soc: int) -> list[dict[str, Any]]:
    """The EV renegotiates (fresh needs at ``soc``, Accepted): every SetChargingProfile the
    station got for them, once a Heartbeat came back after the first (whatever the node sent
    on the needs' answer came before it)."""

    def profiles() -> list[dict[str, Any]]:
        return [kw for action, kw in r.peer.received if action == "SetChargingProfile"]

    seen = len(profiles())
    answer = await r.needs(soc=soc, profile_follows=False)
    assert answer.status == "Accepted"
    await r.command("SetChargingProfile")
    await r.call(r.calls.Heartbeat())
    return profiles()[seen:]


async def test_ocpp201_needs_during_a_discharge_get_the_discharge_again(
    database_url, admin_env, bridge
):
    """2.0.1: renegotiated needs (the same EV) are Accepted and answered with the session's
    negative limit, -5000 W."""
    setup_database(database_url, min_soc=40, bidirectional=True)
    async with rig(database_url, bridge) as r:
        first = await discharging_201(r)
        assert first_period(first)["limit"] == -5000
        await r.event("v2g.session.updated")  # discharging
        after = await profiles_for_fresh_needs(r, 59)
        assert after
        assert all(is_discharge(p) and first_period(p)["limit"] == -5000 for p in after)


async def test_ocpp21_needs_during_a_discharge_get_the_discharge_again(
    database_url, admin_env, bridge
):
    """2.1: renegotiated BPT needs are answered with the session's CentralSetpoint, -7000 W."""
    setup_database(database_url)
    async with rig(database_url, bridge) as r:
        await discharging(r)
        await r.command("SetChargingProfile", is_discharge)
        after = await profiles_for_fresh_needs(r, 79)
        assert after
        assert all(is_discharge(p) and first_period(p)["setpoint"] == -7000 for p in after)
