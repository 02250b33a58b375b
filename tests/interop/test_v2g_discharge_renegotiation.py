"""Fresh charging needs while a discharge runs (K16.FR.12, K17.FR.07): the station gets a
profile for them, and it is the session's discharge, not a charging profile that would end
the discharge behind the session's back; on 2.1 (Dynamic CentralSetpoint) and on 2.0.1 (the
negative-limit convention, docs/V2G.md), with `ocpp`-package charge points and a real node."""

from __future__ import annotations

from typing import Any

from .test_v2g_discharge import discharging, is_discharge
from .v2g_discharge_peer import rig, setup_database


def first_period(profile: dict[str, Any]) -> dict[str, Any]:
    return profile["charging_profile"]["charging_schedule"][0]["charging_schedule_period"][0]


async def profiles_after(r: Any, seen: int) -> list[dict[str, Any]]:
    """The SetChargingProfiles the station got after the first ``seen``, once a Heartbeat
    came back (whatever the node sent on the needs' answer came before it)."""
    await r.call(r.calls.Heartbeat())
    profiles = [kw for action, kw in r.peer.received if action == "SetChargingProfile"]
    return profiles[seen:]


async def test_ocpp201_needs_during_a_discharge_get_the_discharge_again(
    database_url, admin_env, bridge
):
    """2.0.1: renegotiated needs (the same EV) are Accepted and answered with the session's
    negative limit, -5000 W."""
    setup_database(database_url, min_soc=40, bidirectional=True)
    async with rig(database_url, bridge) as r:
        await r.connect(version="ocpp2.0.1")
        await r.plug_in(soc=60)
        await r.needs(soc=60)
        started = await r.start(powerKw=5)
        assert started.status_code == 201, started.text
        first = await r.command("SetChargingProfile", is_discharge)
        assert first_period(first)["limit"] == -5000
        await r.event("v2g.session.updated")  # discharging
        seen = sum(1 for action, _ in r.peer.received if action == "SetChargingProfile")
        answer = await r.needs(soc=59, profile_follows=False)
        assert answer.status == "Accepted"
        await r.command("SetChargingProfile")
        after = await profiles_after(r, seen)
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
        seen = sum(1 for action, _ in r.peer.received if action == "SetChargingProfile")
        answer = await r.needs(soc=79, profile_follows=False)
        assert answer.status == "Accepted"
        await r.command("SetChargingProfile")
        after = await profiles_after(r, seen)
        assert after
        assert all(is_discharge(p) and first_period(p)["setpoint"] == -7000 for p in after)
