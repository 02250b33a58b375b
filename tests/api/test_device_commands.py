"""End to end: a station registered through the API, an `ocpp`-package charge point connected
over a real WebSocket, and every device command sent through REST; the station's answer comes
back in the HTTP response and lands in the command audit."""

from __future__ import annotations

from typing import Any

import httpx
import trio

from csms.actors import Node
from csms.api import BOOTSTRAP_NAME
from csms.runtime import AsyncioThread

from .chargepoint import TestChargePoint, connect_charge_point
from .conftest import PASSWORD

STATION = "CP-API-1"


async def connected_station(
    node: Node, api: httpx.AsyncClient, bridge: AsyncioThread, station_id: str = STATION
) -> TestChargePoint:
    r = await api.post("/api/v1/stations", json={"id": station_id, "password": PASSWORD})
    assert r.status_code == 201, r.text
    cp = await connect_charge_point(bridge, node.ocpp_port, station_id, PASSWORD)
    boot = await cp.boot()
    assert boot.status == "Accepted"
    return cp


async def wait_audit(api: httpx.AsyncClient, command_id: str) -> dict[str, Any]:
    """The audited command once its completion is committed (the audit is written behind)."""
    with trio.fail_after(10):
        while True:
            r = await api.get(f"/api/v1/commands/{command_id}")
            if r.status_code == 200 and r.json()["status"] not in ("pending", "sent"):
                return dict(r.json())
            await trio.lowlevel.checkpoint()


async def test_every_device_command_round_trips(
    node: Node, api: httpx.AsyncClient, bridge: AsyncioThread
) -> None:
    cp = await connected_station(node, api, bridge)
    base = f"/api/v1/devices/{STATION}"
    profile = {
        "id": 7,
        "stackLevel": 0,
        "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": "Absolute",
        "chargingSchedule": [
            {
                "id": 1,
                "startSchedule": "2025-01-01T00:00:00Z",
                "chargingRateUnit": "A",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0}],
            }
        ],
    }
    cases: list[tuple[str, str, dict[str, Any] | None, dict[str, Any] | None, str, dict[str, Any]]]
    cases = [
        (
            "POST",
            "/remote-start",
            {"idToken": "TAG1", "evseId": 1},
            None,
            "RequestStartTransaction",
            {"status": "Accepted", "transactionId": "tx-remote-1"},
        ),
        (
            "POST",
            "/remote-stop",
            {"transactionId": "tx-remote-1"},
            None,
            "RequestStopTransaction",
            {"status": "Rejected"},
        ),
        ("POST", "/reset", {"type": "OnIdle"}, None, "Reset", {"status": "Scheduled"}),
        ("POST", "/reset", None, None, "Reset", {"status": "Accepted"}),
        (
            "POST",
            "/trigger/StatusNotification",
            {"evseId": 1, "connectorId": 1},
            None,
            "TriggerMessage",
            {"status": "Accepted"},
        ),
        (
            "POST",
            "/unlock",
            {"evseId": 1, "connectorId": 1},
            None,
            "UnlockConnector",
            {"status": "Unlocked"},
        ),
        (
            "POST",
            "/availability",
            {"operationalStatus": "Inoperative", "evseId": 1},
            None,
            "ChangeAvailability",
            {"status": "Accepted"},
        ),
        (
            "POST",
            "/charging-profile",
            {"evseId": 1, "chargingProfile": profile},
            None,
            "SetChargingProfile",
            {"status": "Accepted"},
        ),
        (
            "DELETE",
            "/charging-profile",
            None,
            {"chargingProfileId": "7"},
            "ClearChargingProfile",
            {"status": "Unknown"},
        ),
        (
            "GET",
            "/charging-profiles",
            None,
            {"evseId": "1"},
            "GetChargingProfiles",
            {"status": "NoProfiles"},
        ),
        (
            "GET",
            "/variables",
            None,
            {"component": "OCPPCommCtrlr", "variable": "HeartbeatInterval"},
            "GetVariables",
            {
                "getVariableResult": [
                    {
                        "attributeStatus": "Accepted",
                        "attributeValue": "300",
                        "component": {"name": "OCPPCommCtrlr"},
                        "variable": {"name": "HeartbeatInterval"},
                    }
                ]
            },
        ),
        (
            "POST",
            "/variables",
            {
                "variables": [
                    {"component": "OCPPCommCtrlr", "variable": "HeartbeatInterval", "value": "60"}
                ]
            },
            None,
            "SetVariables",
            {
                "setVariableResult": [
                    {
                        "attributeStatus": "Accepted",
                        "component": {"name": "OCPPCommCtrlr"},
                        "variable": {"name": "HeartbeatInterval"},
                    }
                ]
            },
        ),
    ]
    for method, path, body, params, action, expected in cases:
        r = await api.request(method, base + path, json=body, params=params)
        assert r.status_code == 200, (path, r.text)
        reply = r.json()
        assert reply["action"] == action
        assert reply["response"] == expected, path
        audit = await wait_audit(api, reply["commandId"])
        assert audit["status"] == "responded"
        assert audit["action"] == action
        assert audit["stationId"] == STATION
        assert audit["requestedBy"] == BOOTSTRAP_NAME
        assert audit["payload"] == reply["request"]
        assert audit["response"] == expected
    assert [action for action, _ in cp.received] == [case[4] for case in cases]
    # what the station saw is what the compact bodies promised
    start = cp.received[0][1]
    assert start["id_token"] == {"id_token": "TAG1", "type": "Central"}
    assert start["evse_id"] == 1
    assert isinstance(start["remote_start_id"], int)
    assert cp.received[4][1]["evse"] == {"id": 1, "connector_id": 1}
    await cp.close()


async def test_generic_ocpp_action_replies_with_the_wire_payload(
    node: Node, api: httpx.AsyncClient, bridge: AsyncioThread
) -> None:
    cp = await connected_station(node, api, bridge)
    r = await api.post(
        f"/api/v1/devices/{STATION}/ocpp/GetBaseReport",
        json={"requestId": 42, "reportBase": "FullInventory"},
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "Accepted"}
    audit = await wait_audit(api, r.headers["X-Command-Id"])
    assert audit["payload"] == {"requestId": 42, "reportBase": "FullInventory"}
    assert cp.received == [("GetBaseReport", {"request_id": 42, "report_base": "FullInventory"})]
    # the audit lists it, filtered by station and action
    r = await api.get("/api/v1/commands", params={"stationId": STATION, "action": "GetBaseReport"})
    assert [c["id"] for c in r.json()["items"]] == [audit["id"]]
    await cp.close()


async def test_callerror_of_the_station_is_502_with_its_code(
    node: Node, api: httpx.AsyncClient, bridge: AsyncioThread
) -> None:
    cp = await connected_station(node, api, bridge)
    # the charge point has no SetMonitoringLevel handler: the ocpp package answers NotImplemented
    r = await api.post(f"/api/v1/devices/{STATION}/ocpp/SetMonitoringLevel", json={"severity": 5})
    assert r.status_code == 502, r.text
    error = r.json()["error"]
    assert error["code"] == "station_error"
    assert error["ocppCode"] == "NotImplemented"
    audit = await wait_audit(api, error["commandId"])
    assert audit["status"] == "error"
    assert audit["errorCode"] == "NotImplemented"
    await cp.close()


async def test_get_station_shows_live_state_and_presence(
    node: Node, api: httpx.AsyncClient, bridge: AsyncioThread
) -> None:
    cp = await connected_station(node, api, bridge)
    r = await api.get(f"/api/v1/stations/{STATION}")
    assert r.status_code == 200
    live = r.json()["live"]
    assert live["stationId"] == STATION
    assert live["boot"]["model"] == "API-Test"
    with trio.fail_after(10):  # presence is written behind, by the persistence actor
        while not (await api.get(f"/api/v1/stations/{STATION}")).json()["connected"]:
            await trio.lowlevel.checkpoint()
    r = await api.get("/api/v1/stations", params={"connected": "true"})
    assert [s["id"] for s in r.json()["items"]] == [STATION]
    assert r.json()["items"][0]["nodeId"] == node.settings.node.id
    await cp.close()


async def test_metrics_count_messages_commands_and_latency(
    node: Node, api: httpx.AsyncClient, bridge: AsyncioThread
) -> None:
    cp = await connected_station(node, api, bridge)
    r = await api.post(f"/api/v1/devices/{STATION}/reset", json={})
    assert r.status_code == 200
    await wait_audit(api, r.json()["commandId"])
    text = (await api.get("/metrics")).text
    assert "csms_stations_connected 1" in text
    assert 'csms_ocpp_messages_received_total{action="BootNotification"} 1' in text
    assert 'csms_ocpp_commands_sent_total{action="Reset"} 1' in text
    assert 'csms_ocpp_command_results_total{action="Reset",outcome="responded"} 1' in text
    assert 'csms_api_command_duration_seconds_count{action="Reset",outcome="ok"} 1' in text
    assert 'csms_actor_mailbox_depth{actor="stations/*"}' in text
    assert "csms_persistence_committed_batches_total" in text
    await cp.close()
