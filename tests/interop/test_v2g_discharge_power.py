"""``POST /api/v1/v2g/discharge/power`` end to end: a real node, an `ocpp`-package 2.1 V2X
charge point (which validates every message the node sends it), the session's ``ChangePower``
(csms/actors/v2g) reached through the REST API's V2GControl."""

from __future__ import annotations

import uuid

from .test_v2g_discharge import discharging, ended, is_discharge
from .v2g_discharge_peer import rig, setup_database

POWER = "/api/v1/v2g/discharge/power"


async def test_a_new_power_reaches_the_station_as_update_dynamic_schedule(
    database_url, admin_env, bridge
):
    """Q04: the operator's new power (4 kW) moves the Dynamic CentralSetpoint profile's
    setpoint to -4000 W through UpdateDynamicSchedule; the answer is the session with it; a
    power beyond the EV's maximum (10 kW) is capped to it."""
    setup_database(database_url)
    async with rig(database_url, bridge) as r:
        session = await discharging(r)
        await r.command("SetChargingProfile", is_discharge)
        answer = await r.api.post(POWER, json={"sessionId": session["id"], "powerKw": 4})
        assert answer.status_code == 200, answer.text
        assert answer.json()["id"] == session["id"]
        assert answer.json()["setpointKw"] == 4
        assert answer.json()["requestedPowerKw"] == 4
        update = await r.command("UpdateDynamicSchedule")
        assert update["schedule_update"] == {"setpoint": -4000}
        capped = await r.api.post(POWER, json={"sessionId": session["id"], "powerKw": 25})
        assert capped.status_code == 200, capped.text
        assert capped.json()["setpointKw"] == 10
        update = await r.command("UpdateDynamicSchedule")
        assert update["schedule_update"] == {"setpoint": -10000}


async def test_unknown_ended_and_bad_requests(database_url, admin_env, bridge):
    """404 for an unknown session, 409 ``session_ended`` once it ended, 422 naming the field."""
    setup_database(database_url)
    async with rig(database_url, bridge) as r:
        unknown = await r.api.post(POWER, json={"sessionId": str(uuid.uuid4()), "powerKw": 3})
        assert unknown.status_code == 404, unknown.text
        session = await discharging(r)
        for body, field in [
            ({"sessionId": session["id"], "powerKw": 0}, "powerKw"),
            ({"sessionId": session["id"], "powerKw": "3"}, "powerKw"),
            ({"sessionId": session["id"]}, "powerKw"),
            ({"sessionId": "not-a-uuid", "powerKw": 3}, "sessionId"),
        ]:
            bad = await r.api.post(POWER, json=body)
            assert bad.status_code == 422, bad.text
            assert bad.json()["error"]["field"] == field
        stopped = await r.api.post("/api/v1/v2g/discharge/stop", json={"sessionId": session["id"]})
        assert stopped.status_code == 200
        await ended(r, "operator_stop")
        late = await r.api.post(POWER, json={"sessionId": session["id"], "powerKw": 3})
        assert late.status_code == 409, late.text
        assert late.json()["error"]["code"] == "session_ended"
