"""Every event a whole node publishes is a catalog event whose JSON body fits its documented
shape (docs/EVENTS.md): a station connecting, booting, reporting a connector, running a
transaction, answering a command and disconnecting."""

from __future__ import annotations

import httpx
import trio
from ocpp.v201 import call

from csms.actors import Node
from csms.domain.events import Event, StationDisconnected
from csms.runtime import AsyncioThread
from tests.event_schemas import check_event

from .test_device_commands import STATION, connected_station

NOW = "2025-03-01T12:00:00+00:00"


async def test_every_event_of_a_whole_node_run_is_a_catalog_event_that_validates(
    node: Node, api: httpx.AsyncClient, bridge: AsyncioThread
) -> None:
    everything = node.events.subscribe("")
    cp = await connected_station(node, api, bridge)
    await bridge.run(
        cp.cp.call,
        call.StatusNotification(
            timestamp=NOW, connector_status="Occupied", evse_id=1, connector_id=1
        ),
    )
    for seq, kind, trigger in (
        (0, "Started", "Authorized"),
        (1, "Updated", "MeterValuePeriodic"),
        (2, "Ended", "StopAuthorized"),
    ):
        await bridge.run(
            cp.cp.call,
            call.TransactionEvent(
                event_type=kind,
                timestamp=NOW,
                seq_no=seq,
                trigger_reason=trigger,
                transaction_info={"transaction_id": "tx-events"},
                evse={"id": 1, "connector_id": 1},
                meter_value=[{"timestamp": NOW, "sampled_value": [{"value": 100.0 * seq}]}],
            ),
        )
    r = await api.post(f"/api/v1/devices/{STATION}/reset", json={"type": "Immediate"})
    assert r.status_code == 200, r.text
    await cp.close()

    seen: list[Event] = []
    with trio.fail_after(10):  # the disconnection is published when the station's actor stops
        async for event in everything:
            seen.append(event)
            if isinstance(event, StationDisconnected):
                break
    bodies = [check_event(event) for event in seen]
    assert {body["nodeId"] for body in bodies} == {node.settings.node.id}
    assert {body["stationId"] for body in bodies} == {STATION}
    assert [body["subject"] for body in bodies] == [
        "station.connected",
        "station.booted",
        "station.status",
        "transaction.started",
        "transaction.updated",
        "transaction.ended",
        "ocpp.command.sent",
        "ocpp.command.response",
        "station.disconnected",
    ]
    transaction_ids = {
        b["transactionId"] for b in bodies if b["subject"].startswith("transaction.")
    }
    assert transaction_ids == {"tx-events"}
    sent, response = (b for b in bodies if b["subject"].startswith("ocpp.command."))
    assert sent["commandId"] == response["commandId"] == r.json()["commandId"]
    assert response["outcome"] == "responded"
    assert response["response"] == {"status": "Accepted"}
