"""More ends of a discharge session, end to end: charging restored with a ChargingOnly profile
where the EV still needs energy, a renegotiation without a bidirectional mode, and a session a
node left half-ended (``stopping``) that the next node ends (``node_restart_lost``)."""

from __future__ import annotations

import uuid

from csms.services.v2g_session import state_from_json, state_to_json
from csms.storage import connect as db_connect
from csms.storage import v2g_sessions

from .v2g_discharge_peer import is_discharge, rig, setup_database


def _period(set_profile: dict) -> dict:
    return set_profile["charging_profile"]["charging_schedule"][0]["charging_schedule_period"][0]


def _charging_only(set_profile: dict) -> bool:
    return _period(set_profile).get("operation_mode") == "ChargingOnly"


async def test_an_ev_below_its_target_soc_gets_a_charging_only_profile_back(
    database_url, admin_env, bridge
):
    """Every end restores charging: the EV wants 90 % and has 70 %, so the discharge profile is
    replaced by a ChargingOnly one with a positive limit and no discharge fields (Q02.FR.02)."""
    setup_database(database_url)
    async with rig(database_url, bridge) as r:
        await r.connect()
        await r.plug_in(soc=75)
        await r.needs(soc=75, target_soc=90)
        started = await r.start(powerKw=7)
        assert started.status_code == 201, started.text
        await r.command("SetChargingProfile", is_discharge)
        await r.report(soc=70, export_wh=10)
        stopped = await r.api.post(
            "/api/v1/v2g/discharge/stop", json={"sessionId": started.json()["id"]}
        )
        assert stopped.status_code == 200
        restore = await r.command("SetChargingProfile", _charging_only)
        period = _period(restore)
        assert period["limit"] > 0
        assert not {"setpoint", "discharge_limit"} & set(period)
        completed = await r.event("v2g.session.completed")
        assert completed.end_reason == "operator_stop"
        assert not [a for a, _ in r.peer.received if a == "ClearChargingProfile"]


async def test_renegotiated_needs_without_a_bidirectional_mode_fail_the_session(
    database_url, admin_env, bridge
):
    """Q02.FR.07: after NotifyAllowedEnergyTransfer the EV renegotiates, still in DC."""
    setup_database(database_url)
    async with rig(database_url, bridge) as r:
        await r.connect()
        await r.plug_in()
        await r.needs(requested="DC")
        answer = await r.start(powerKw=6)
        assert answer.status_code == 202, answer.text
        await r.command("NotifyAllowedEnergyTransfer")
        await r.needs(requested="DC", profile_follows=False)
        completed = await r.event("v2g.session.completed")
        assert (completed.end_reason, completed.state) == ("negotiation_failed", "failed")
        assert not [
            a for a, kw in r.peer.received if a == "SetChargingProfile" and is_discharge(kw)
        ]


async def test_a_session_a_node_left_stopping_is_ended_by_the_next(database_url, admin_env, bridge):
    """A node that stops while a session restores charging leaves it ``stopping``: the next
    node ends it (node_restart_lost) and restores charging again."""
    setup_database(database_url)
    async with rig(database_url, bridge) as first:
        await first.connect()
        await first.plug_in()
        await first.needs()
        started = await first.start(powerKw=7)
        assert started.status_code == 201, started.text
        assert (await first.event("v2g.session.updated")).state == "discharging"
        session_id = uuid.UUID(started.json()["id"])
    # what the first node would have stored had it stopped while restoring charging
    with db_connect(database_url) as conn:
        row = v2g_sessions.get(conn, session_id)
        assert row is not None
        stopping = state_to_json(state_from_json(row.policy_state))
        stopping["state"] = "stopping"
        v2g_sessions.save(conn, session_id, state="stopping", policy_state=stopping)
        conn.commit()
    async with rig(database_url, bridge) as second:
        completed = await second.event("v2g.session.completed")
        assert (completed.end_reason, completed.state) == ("node_restart_lost", "failed")
        await second.connect()
        body = (await second.api.get(f"/api/v1/v2g/session/{session_id}")).json()
        assert (body["state"], body["endReason"]) == ("failed", "node_restart_lost")
