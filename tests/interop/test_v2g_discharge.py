"""V2G discharge sessions end to end: REST start, an OCPP 2.1 V2X charge point (the `ocpp`
package, which validates every message the node sends it) that applies the setpoint and reports
meter values, the session's events, and every end restoring charging.

Nothing waits on time: a test waits for the node's ``v2g.session.*`` events or for the command
the charge point receives; the ends that are about time (duration, window, disconnect grace)
move trio's clock (``MockClock``), which the sessions' clock follows.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from ocpp.v21 import call as call21

from csms.actors.v2g import V2G_SESSIONS, ChangePower

from .v2g_discharge_peer import (
    SESSION_KEYS,
    STATION,
    TRANSACTION,
    USER,
    Rig,
    is_discharge,
    rig,
    setup_database,
)


async def discharging(r: Rig, **body: Any) -> dict[str, Any]:
    """Plugged in, bidirectional needs announced, discharge started through REST and confirmed
    by the station; the session as the start answered it."""
    await r.connect()
    await r.plug_in(soc=80)
    await r.needs()
    started = await r.start(powerKw=7, **body)
    assert started.status_code == 201, started.text
    session = started.json()
    assert session["state"] == "starting"
    await r.event("v2g.session.started")
    updated = await r.event("v2g.session.updated")
    assert updated.state == "discharging"
    return session


async def discharging_201(r: Rig, power_kw: float = 5) -> dict[str, Any]:
    """A 2.0.1 station (registered bidirectional) whose EV announced the customData convention
    at 60 %, a discharge started through REST; the station's first discharge profile."""
    await r.connect(version="ocpp2.0.1")
    await r.plug_in(soc=60)
    await r.needs(soc=60)
    started = await r.start(powerKw=power_kw)
    assert started.status_code == 201, started.text
    assert started.json()["operationMode"] is None
    return await r.command("SetChargingProfile", is_discharge)


async def ended(r: Rig, reason: str, *, state: str = "completed") -> Any:
    completed = await r.event("v2g.session.completed")
    assert (completed.end_reason, completed.state) == (reason, state)
    return completed


def cleared(kwargs: dict[str, Any]) -> bool:
    return kwargs.get("charging_profile_id") is not None


async def test_discharge_stops_at_the_soc_floor_clears_its_profile_and_counts_the_register(
    database_url, admin_env, bridge
):
    """Q03.FR.01/02: a CentralSetpoint TxProfile with a negative setpoint and no limit fields;
    the SoC floor ends the session, the discharge profile is cleared and exportedWh is the
    export register's difference (SPEC section 6)."""
    setup_database(database_url, min_soc=40)
    async with rig(database_url, bridge) as r:
        session = await discharging(r)
        assert set(session) == SESSION_KEYS
        assert session["endedAt"] is None
        assert session["endReason"] is None
        assert (session["stationId"], session["transactionId"], session["userId"]) == (
            STATION,
            TRANSACTION,
            USER,
        )
        profile = await r.command("SetChargingProfile", is_discharge)
        period = profile["charging_profile"]["charging_schedule"][0]["charging_schedule_period"][0]
        assert period["operation_mode"] == "CentralSetpoint"
        assert period["setpoint"] == -7000
        assert not {"limit", "discharge_limit", "limit_l2", "setpoint_l2"} & set(period)
        assert profile["charging_profile"]["invalid_after_offline_duration"] is True

        await r.report(soc=70, export_wh=1000)
        await r.report(soc=55, export_wh=2200)
        await r.report(soc=40, export_wh=3350)
        completed = await ended(r, "soc_floor")
        assert completed.exported_wh == 2350
        clear = [a for a, kw in r.peer.received if a == "ClearChargingProfile"]
        assert clear, "the discharge profile was not cleared"

        answer = await r.api.get(f"/api/v1/v2g/session/{session['id']}")
        assert answer.status_code == 200
        body = answer.json()
        assert set(body) == SESSION_KEYS
        assert body["state"] == "completed"
        assert body["endReason"] == "soc_floor"
        assert body["exportedWh"] == 2350
        assert (body["startSoc"], body["lastSoc"]) == (80, 40)
        assert body["endedAt"] is not None
        listed = await r.api.get("/api/v1/v2g/sessions", params={"active": "false", "userId": USER})
        assert [s["id"] for s in listed.json()["items"]] == [session["id"]]
        active = await r.api.get("/api/v1/v2g/sessions", params={"active": "true"})
        assert active.json()["items"] == []


async def test_operator_stop_ends_the_session_and_restores_charging(
    database_url, admin_env, bridge
):
    setup_database(database_url)
    async with rig(database_url, bridge) as r:
        session = await discharging(r)
        await r.report(soc=75, export_wh=500)
        stopped = await r.api.post("/api/v1/v2g/discharge/stop", json={"sessionId": session["id"]})
        assert stopped.status_code == 200
        assert stopped.json()["state"] in ("stopping", "completed")
        await ended(r, "operator_stop")
        await r.command("ClearChargingProfile", cleared)
        again = await r.api.post("/api/v1/v2g/discharge/stop", json={"sessionId": session["id"]})
        assert again.json()["state"] == "completed"


async def test_transaction_end_ends_the_session(database_url, admin_env, bridge):
    setup_database(database_url)
    async with rig(database_url, bridge) as r:
        await discharging(r)
        await r.transaction_event("Ended", "EVDeparted")
        await ended(r, "transaction_ended")
        await r.command("ClearChargingProfile", cleared)


async def test_station_fault_ends_the_session(database_url, admin_env, bridge):
    from ocpp.v21 import call as call21

    from .v2g_discharge_peer import now_text

    setup_database(database_url)
    async with rig(database_url, bridge) as r:
        await discharging(r)
        await r.call(
            call21.StatusNotification(
                timestamp=now_text(), connector_status="Faulted", evse_id=1, connector_id=1
            )
        )
        await ended(r, "station_fault", state="failed")
        await r.command("ClearChargingProfile", cleared)


async def test_a_rejected_discharge_profile_fails_the_session(database_url, admin_env, bridge):
    setup_database(database_url)
    async with rig(database_url, bridge) as r:
        await r.connect()
        r.peer.cp.reject_discharge = True
        await r.plug_in()
        await r.needs()
        started = await r.start(powerKw=5)
        assert started.status_code == 201
        await ended(r, "profile_rejected", state="failed")
        await r.command("ClearChargingProfile", cleared)


async def test_station_disconnect_ends_the_session_after_the_grace(
    database_url, admin_env, bridge, wall_clock
):
    setup_database(database_url)
    async with rig(database_url, bridge) as r:
        await discharging(r)
        gone = r.node.events.subscribe("station.disconnected")
        await r.peer.close()
        r.peer = None
        await gone.receive.receive()  # the node saw the station go
        r.node.events.unsubscribe(gone)
        wall_clock.jump(61)  # the grace (60 s) passes
        await ended(r, "station_disconnected", state="failed")


async def test_duration_elapsed_ends_the_session(database_url, admin_env, bridge, wall_clock):
    setup_database(database_url)
    async with rig(database_url, bridge) as r:
        await discharging(r, durationMinutes=1)
        wall_clock.jump(61)
        await ended(r, "duration_elapsed")
        await r.command("ClearChargingProfile", cleared)


async def test_departure_energy_ends_the_session(database_url, admin_env, bridge):
    """The owner needs 30 kWh by departure: a 60 kWh battery at 49 % holds less."""
    setup_database(database_url, min_soc=20, departure_energy_wh=30000)
    async with rig(database_url, bridge) as r:
        await discharging(r)
        await r.report(soc=60, export_wh=100)
        await r.report(soc=49, export_wh=6700)
        completed = await ended(r, "departure_energy")
        assert completed.exported_wh == 6600


async def test_an_ocpp_201_station_discharges_on_a_negative_limit(database_url, admin_env, bridge):
    """docs/V2G.md "OCPP 2.0.1": a station registered bidirectional and an EV whose needs carry
    the org.csms.v2g customData discharge on a TxProfile with a negative limit; the floor ends
    it and the profile is cleared."""
    setup_database(database_url, min_soc=40, bidirectional=True)
    async with rig(database_url, bridge) as r:
        profile = await discharging_201(r)
        period = profile["charging_profile"]["charging_schedule"][0]["charging_schedule_period"][0]
        assert period["limit"] == -5000
        assert "operation_mode" not in period
        await r.report(soc=50, export_wh=100)
        await r.report(soc=39, export_wh=2100)
        completed = await ended(r, "soc_floor")
        assert completed.exported_wh == 2000
        await r.command("ClearChargingProfile", cleared)


async def test_a_new_power_moves_the_dynamic_setpoint_within_the_limits(
    database_url, admin_env, bridge
):
    """Q04: a Dynamic profile's setpoint moves by UpdateDynamicSchedule, capped by the user's
    (11 kW) and the EV's (10 kW) maximum; the station's PullDynamicScheduleUpdate gets it."""
    setup_database(database_url)
    async with rig(database_url, bridge) as r:
        session = await discharging(r)
        sessions = r.node.root.ref(V2G_SESSIONS)
        changed = await sessions.ask(
            ChangePower(uuid.UUID(session["id"]), Decimal(20000)), timeout=15
        )
        assert changed.setpoint_w == Decimal(10000)
        update = await r.command("UpdateDynamicSchedule")
        assert update["schedule_update"] == {"setpoint": -10000}
        profile_id = update["charging_profile_id"]
        pulled = await r.call(call21.PullDynamicScheduleUpdate(charging_profile_id=profile_id))
        assert pulled.status == "Accepted"
        assert pulled.schedule_update["setpoint"] == -10000
