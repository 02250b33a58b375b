"""A node restart in the middle of a discharge: the next node resumes the session from the
database, commands the station again when it reconnects (Q12: what happened while no node
watched is unknown), and still ends it cleanly, counting the export register from the session's
first reading (before the restart)."""

from __future__ import annotations

from .v2g_discharge_peer import is_discharge, rig, setup_database


async def test_a_restarted_node_resumes_the_session_and_ends_it(
    database_url, admin_env, bridge, wall_clock
):
    setup_database(database_url, min_soc=40)
    async with rig(database_url, bridge) as first:
        await first.connect()
        await first.plug_in(soc=80)
        await first.needs()
        started = await first.start(powerKw=7)
        assert started.status_code == 201, started.text
        session_id = started.json()["id"]
        assert (await first.event("v2g.session.updated")).state == "discharging"
        wall_clock.jump(10)  # past the update interval: the next reading is recorded
        await first.report(soc=70, export_wh=1000)
        recorded = await first.event("v2g.session.updated")
        assert (recorded.last_soc, recorded.exported_wh) == (70, 0)
        seq = first.seq

    async with rig(database_url, bridge) as second:
        second.seq = seq + 1
        listed = await second.api.get("/api/v1/v2g/sessions", params={"active": "true"})
        assert [s["id"] for s in listed.json()["items"]] == [session_id]
        await second.connect()
        again = await second.command("SetChargingProfile", is_discharge)
        period = again["charging_profile"]["charging_schedule"][0]["charging_schedule_period"][0]
        assert period["setpoint"] == -7000
        await second.report(soc=55, export_wh=2000)
        await second.report(soc=40, export_wh=2600)
        completed = await second.event("v2g.session.completed")
        assert completed.session_id == session_id
        assert completed.end_reason == "soc_floor"
        assert completed.exported_wh == 1600
        await second.command("ClearChargingProfile")
        body = (await second.api.get(f"/api/v1/v2g/session/{session_id}")).json()
        assert (body["state"], body["exportedWh"], body["startSoc"]) == ("completed", 1600, 80)
