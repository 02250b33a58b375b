"""ISO 15118 smart charging (K15-K17) for every EV and V2X after the start (Q02, Q04) at the
wire, with `ocpp`-package charge points against a whole node and its V2X owner."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ocpp.v21 import call as call21
from ocpp.v201 import call as call201

from csms.actors.v2x import AllowV2X, SetpointChanged
from csms.node import NodeControlPlane
from csms.services.v2g_profiles import tx_profile_id
from csms.storage import connect as db_connect

from .peer import interop_node
from .test_v2x_station import (
    OTHER,
    TOKEN,
    ac_needs,
    iso_now,
    no_more_after_a_round_trip,
    opt_in,
    periods,
    prepare,
    start_transaction,
    station201_in_transaction,
    v2x_station,
)


async def test_ev_schedule_beyond_the_limits_is_rejected_then_renegotiated(database_url):
    """TC_K_55, K15.FR.11-13 / K17.FR.11-13: the EV's schedule above the limit sent is
    Rejected and a renegotiated profile follows; a schedule within it is Accepted and nothing
    is sent again."""
    async with v2x_station(database_url, "V2X6") as (_node, bridge, peer):
        await start_transaction(peer, OTHER, "tx-k55")
        assert (await peer.call(ac_needs())).status == "Accepted"
        (first,) = await bridge.run(peer.cp.wait_for, "SetChargingProfile")
        (period,) = periods(first["charging_profile"])
        limit = period["limit"]
        assert not {"setpoint", "discharge_limit"} & set(period)  # Q02.FR.02

        def schedule(value: float) -> call21.NotifyEVChargingSchedule:
            return call21.NotifyEVChargingSchedule(
                time_base=iso_now(),
                evse_id=1,
                charging_schedule={
                    "id": 1,
                    "charging_rate_unit": "W",
                    "charging_schedule_period": [{"start_period": 0, "limit": value}],
                },
            )

        assert (await peer.call(schedule(limit * 2))).status == "Rejected"
        profiles = await bridge.run(peer.cp.wait_for, "SetChargingProfile", 2)
        renegotiated = profiles[1]["charging_profile"]
        assert renegotiated["transaction_id"] == "tx-k55"
        assert renegotiated["id"] == first["charging_profile"]["id"]  # replaces it (K01.FR.05)
        assert (await peer.call(schedule(limit))).status == "Accepted"
        await no_more_after_a_round_trip(peer)
        assert len([a for a, _ in peer.received if a == "SetChargingProfile"]) == 2


async def test_charging_only_first_then_notify_allowed_energy_transfer(database_url):
    """Q02.FR.01/02: needs without a bidirectional request get a ChargingOnly profile without
    discharge fields; Q02.FR.05: when V2X becomes allowed (AllowV2X, as a discharge start
    sends it) the station gets NotifyAllowedEnergyTransfer for the transaction, with BPT."""
    async with v2x_station(database_url, "V2X7") as (node, bridge, peer):
        await start_transaction(peer, TOKEN, "tx-q02")
        assert (await peer.call(ac_needs(["AC_three_phase", "AC_BPT"]))).status == "Accepted"
        (sent,) = await bridge.run(peer.cp.wait_for, "SetChargingProfile")
        for period in periods(sent["charging_profile"]):
            assert period.get("operation_mode", "ChargingOnly") == "ChargingOnly"
            assert not {"setpoint", "setpoint_reactive", "discharge_limit"} & set(period)
        allowed = await node.root.ref("v2x").ask(AllowV2X("V2X7", 1), timeout=15)
        (notified,) = [kw for a, kw in peer.received if a == "NotifyAllowedEnergyTransfer"]
        assert notified["transaction_id"] == "tx-q02"
        assert notified["allowed_energy_transfer"] == allowed
        assert "AC_BPT" in allowed


async def test_pull_dynamic_schedule_update_answers_the_session_setpoint(database_url):
    """Q04: PullDynamicScheduleUpdate of the EVSE's Dynamic profile is answered with the
    setpoint its discharge session registered (SetpointChanged); otherwise, or once the session
    ended, Rejected."""
    async with v2x_station(database_url, "V2X8") as (node, _bridge, peer):
        owner = node.root.ref("v2x")

        async def pull(evse_id: int) -> Any:
            profile_id = tx_profile_id(evse_id)
            return await peer.call(call21.PullDynamicScheduleUpdate(charging_profile_id=profile_id))

        await owner.tell(SetpointChanged("V2X8", 1, Decimal(-5000)))
        pulled = await pull(1)
        assert pulled.status == "Accepted"
        assert pulled.schedule_update == {"setpoint": -5000}
        assert (await pull(2)).status == "Rejected"
        await owner.tell(SetpointChanged("V2X8", 1, None))
        assert (await pull(1)).status == "Rejected"


async def test_ocpp201_needs_accepted_then_a_plain_tx_profile(database_url):
    """K15.FR.03/07 on OCPP 2.0.1: the needs are Accepted and a TxProfile of the transaction
    follows, with a positive limit and no 2.1 fields."""
    prepare(database_url, "V2XA")
    async with interop_node(database_url) as (node, bridge):
        peer = await station201_in_transaction(bridge, node.ocpp_port, "V2XA", "tx-201")
        needs = {
            "requested_energy_transfer": "DC",
            "dc_charging_parameters": {
                "ev_max_current": 100,
                "ev_max_voltage": 400,
                "ev_max_power": 40000,
            },
        }
        answer = await peer.call(call201.NotifyEVChargingNeeds(evse_id=1, charging_needs=needs))
        assert answer.status == "Accepted"
        (sent,) = await bridge.run(peer.cp.wait_for, "SetChargingProfile")
        profile = sent["charging_profile"]
        assert profile["charging_profile_purpose"] == "TxProfile"
        assert profile["transaction_id"] == "tx-201"
        (period,) = periods(profile)
        assert period["limit"] == 40000
        assert "operation_mode" not in period
        await peer.close()


async def test_an_opt_in_while_charging_sends_notify_allowed_energy_transfer(database_url):
    """Q02.FR.05: an EV charging unidirectionally that listed a BPT mode, whose user opts in
    meanwhile (the REST API tells the node, which tells the owner), is offered V2X with
    NotifyAllowedEnergyTransfer for its transaction."""
    async with v2x_station(database_url, "V2XB") as (node, bridge, peer):
        await start_transaction(peer, OTHER, "tx-bia")
        assert (await peer.call(ac_needs(["AC_three_phase", "AC_BPT"]))).status == "Accepted"
        await bridge.run(peer.cp.wait_for, "SetChargingProfile")
        with db_connect(database_url) as conn:
            opt_in(conn, "bia")
            conn.commit()
        NodeControlPlane(node).v2g_user_changed("bia")  # as the REST API does
        (notified,) = await bridge.run(peer.cp.wait_for, "NotifyAllowedEnergyTransfer")
        assert notified["transaction_id"] == "tx-bia"
        assert "AC_BPT" in notified["allowed_energy_transfer"]
