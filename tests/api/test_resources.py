"""Stations, id tokens and transactions through the API, against the real database."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from ocpp.v201 import call

from csms.actors import Node
from csms.runtime import AsyncioThread

from .chargepoint import connect_charge_point
from .conftest import PASSWORD
from .test_device_commands import STATION, connected_station

NOW = "2025-03-01T12:00:00+00:00"


async def test_station_lifecycle(node: Node, api: httpx.AsyncClient, bridge: AsyncioThread) -> None:
    r = await api.post(
        "/api/v1/stations",
        json={"id": "CP-L", "password": PASSWORD, "registrationStatus": "Pending"},
    )
    assert r.status_code == 201
    assert r.headers["location"] == "/api/v1/stations/CP-L"
    created = r.json()
    assert created["registrationStatus"] == "Pending"
    assert "password" not in r.text
    assert PASSWORD not in r.text
    r = await api.patch("/api/v1/stations/CP-L", json={"registrationStatus": "Accepted"})
    assert r.json()["registrationStatus"] == "Accepted"
    # rotate: the new password is shown once and is the one that works from then on
    r = await api.post("/api/v1/stations/CP-L/password")
    new_password = r.json()["password"]
    assert len(new_password) == 32
    with pytest.raises(Exception, match="401"):
        await connect_charge_point(bridge, node.ocpp_port, "CP-L", PASSWORD)
    cp = await connect_charge_point(bridge, node.ocpp_port, "CP-L", new_password)
    assert (await cp.boot()).status == "Accepted"
    # deleting a connected station closes its connection
    r = await api.delete("/api/v1/stations/CP-L")
    assert r.status_code == 204
    assert (await api.get("/api/v1/stations/CP-L")).status_code == 404
    assert node.stations.registry.lookup("CP-L") is None
    assert (await api.delete("/api/v1/stations/CP-L")).status_code == 404
    assert (
        await api.patch("/api/v1/stations/CP-L", json={"registrationStatus": "Accepted"})
    ).status_code == 404
    await cp.close()


async def test_station_list_pages_in_id_order(node: Node, api: httpx.AsyncClient) -> None:
    ids = [f"CP-{n:02d}" for n in range(5)]
    for station_id in reversed(ids):
        assert (
            await api.post("/api/v1/stations", json={"id": station_id, "password": PASSWORD})
        ).is_success
    seen: list[str] = []
    after = None
    while True:
        params: dict[str, Any] = {"limit": 2}
        if after:
            params["after"] = after
        page = (await api.get("/api/v1/stations", params=params)).json()
        seen += [s["id"] for s in page["items"]]
        after = page["next"]
        if after is None:
            break
    assert seen == ids


async def test_id_token_crud(node: Node, api: httpx.AsyncClient) -> None:
    body = {
        "idToken": "TAG1",
        "type": "ISO14443",
        "status": "Accepted",
        "cacheExpiryDateTime": "2030-01-01T00:00:00Z",
        "groupIdToken": "FLEET-7",
    }
    r = await api.post("/api/v1/id-tokens", json=body)
    assert r.status_code == 201, r.text
    assert r.json() == {**body, "cacheExpiryDateTime": "2030-01-01T00:00:00+00:00", "userId": None}
    r = await api.post("/api/v1/id-tokens", json={**body, "idToken": "tag1"})  # case-insensitive
    assert r.status_code == 409
    assert (await api.get("/api/v1/id-tokens/ISO14443/tag1")).json()["idToken"] == "TAG1"
    r = await api.put("/api/v1/id-tokens/ISO14443/TAG1", json={"status": "Blocked"})
    assert r.json()["status"] == "Blocked"
    assert r.json()["groupIdToken"] is None
    listed = (await api.get("/api/v1/id-tokens")).json()["items"]
    assert [(t["idToken"], t["status"]) for t in listed] == [("TAG1", "Blocked")]
    assert (await api.get("/api/v1/id-tokens", params={"groupIdToken": "FLEET-7"})).json() == {
        "items": []
    }
    assert (await api.delete("/api/v1/id-tokens/ISO14443/TAG1")).status_code == 204
    assert (await api.get("/api/v1/id-tokens/ISO14443/TAG1")).status_code == 404
    assert (await api.delete("/api/v1/id-tokens/ISO14443/TAG1")).status_code == 404


async def test_id_token_created_through_the_api_authorizes(
    node: Node, api: httpx.AsyncClient, bridge: AsyncioThread
) -> None:
    await api.post(
        "/api/v1/id-tokens", json={"idToken": "TAG9", "type": "ISO14443", "groupIdToken": "G1"}
    )
    cp = await connected_station(node, api, bridge)
    answer = await bridge.run(
        cp.cp.call, call.Authorize(id_token={"id_token": "tag9", "type": "ISO14443"})
    )
    assert answer.id_token_info["status"] == "Accepted"
    assert answer.id_token_info["group_id_token"]["id_token"] == "G1"
    await cp.close()


async def test_transactions_list_and_detail_with_meter_values(
    node: Node, api: httpx.AsyncClient, bridge: AsyncioThread
) -> None:
    cp = await connected_station(node, api, bridge)
    for n, started in enumerate(("2025-03-01T10:00:00+00:00", "2025-03-01T11:00:00+00:00")):
        for seq, kind, wh in ((0, "Started", 100.0), (1, "Ended", 2600.0)):
            await bridge.run(
                cp.cp.call,
                call.TransactionEvent(
                    event_type=kind,
                    timestamp=started,
                    seq_no=seq,
                    trigger_reason="Authorized" if kind == "Started" else "StopAuthorized",
                    transaction_info={"transaction_id": f"tx-{n}"},
                    evse={"id": 1, "connector_id": 1},
                    meter_value=[{"timestamp": started, "sampled_value": [{"value": wh}]}],
                ),
            )
    page = (await api.get("/api/v1/transactions", params={"stationId": STATION, "limit": 1})).json()
    assert [t["transactionId"] for t in page["items"]] == ["tx-1"]  # newest first
    page = (
        await api.get("/api/v1/transactions", params={"stationId": STATION, "cursor": page["next"]})
    ).json()
    assert [t["transactionId"] for t in page["items"]] == ["tx-0"]
    assert page["next"] is None
    r = await api.get(
        "/api/v1/transactions", params={"until": "2025-03-01T10:30:00Z", "active": "false"}
    )
    assert [t["transactionId"] for t in r.json()["items"]] == ["tx-0"]
    detail = (await api.get(f"/api/v1/transactions/{STATION}/tx-0")).json()
    assert detail["transaction"]["state"] == "Ended"
    assert [e["eventType"] for e in detail["events"]] == ["Started", "Ended"]
    assert [m["value"] for m in detail["meterValues"]] == [100.0, 2600.0]
    assert detail["meterValues"][0]["measurand"] == "Energy.Active.Import.Register"
    await cp.close()
