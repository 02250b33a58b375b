"""Status codes and error bodies: 401, 403, 404, 409, 422 (naming the field), 502, 504."""

from __future__ import annotations

import httpx
import pytest
import trio

from csms.actors import Node
from csms.api import create_token
from csms.runtime import AsyncioThread

from .chargepoint import connect_charge_point
from .conftest import PASSWORD, api_node, client
from .test_device_commands import STATION, connected_station, wait_audit


def error_of(r: httpx.Response, status: int) -> dict[str, str]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json"
    error = r.json()["error"]
    assert isinstance(error["code"], str)
    assert isinstance(error["message"], str)
    return dict(error)


async def test_missing_or_wrong_token_is_401(node: Node) -> None:
    async with client(node, token=None) as anonymous:
        r = await anonymous.get("/api/v1/stations")
        assert error_of(r, 401)["code"] == "unauthorized"
        assert r.headers["www-authenticate"] == "Bearer"
        r = await anonymous.get("/api/v1/stations", headers={"Authorization": "Basic eDp5"})
        error_of(r, 401)
    async with client(node, token="csms_not-a-token") as stranger:
        r = await stranger.get("/api/v1/stations")
        error = error_of(r, 401)
        assert "csms_not-a-token" not in r.text  # secrets are never echoed
        assert error["code"] == "unauthorized"
    async with client(node, token=None) as anonymous:  # public routes need no token
        assert (await anonymous.get("/healthz")).status_code == 200
        assert (await anonymous.get("/openapi.json")).status_code == 200


async def test_roles_are_ordered_and_a_weak_role_is_403(node: Node, database_url: str) -> None:
    viewer = await trio.to_thread.run_sync(create_token, database_url, "viewer", "dashboard")
    operator = await trio.to_thread.run_sync(create_token, database_url, "operator", "ops")
    async with client(node, viewer) as v, client(node, operator) as o:
        assert (await v.get("/api/v1/stations")).status_code == 200
        assert (await v.get("/metrics")).status_code == 200
        r = await v.post("/api/v1/devices/CP9/reset", json={})
        assert error_of(r, 403)["code"] == "forbidden"
        r = await v.post("/api/v1/id-tokens", json={"idToken": "T", "type": "Central"})
        error_of(r, 403)
        # an operator sends commands and manages id tokens, but does not register stations
        r = await o.post("/api/v1/id-tokens", json={"idToken": "T", "type": "Central"})
        assert r.status_code == 201
        r = await o.post("/api/v1/stations", json={"id": "CP9", "password": PASSWORD})
        error_of(r, 403)


async def test_unknown_station_is_404_and_known_but_offline_is_409(
    node: Node, api: httpx.AsyncClient
) -> None:
    r = await api.post("/api/v1/devices/NOPE/reset", json={})
    assert error_of(r, 404)["code"] == "not_found"
    assert error_of(await api.get("/api/v1/stations/NOPE"), 404)
    assert error_of(await api.get("/api/v1/stations/bad%00id"), 404)
    assert error_of(await api.get("/api/v1/commands/not-a-uuid"), 404)
    assert error_of(await api.get("/api/v1/transactions/CP1/tx1"), 404)
    assert (await api.post("/api/v1/stations", json={"id": "CP2", "password": PASSWORD})).is_success
    r = await api.post("/api/v1/devices/CP2/reset", json={})
    assert error_of(r, 409)["code"] == "station_disconnected"


async def test_registering_twice_is_409(node: Node, api: httpx.AsyncClient) -> None:
    body = {"id": "CP3", "password": PASSWORD}
    assert (await api.post("/api/v1/stations", json=body)).status_code == 201
    r = await api.post("/api/v1/stations", json=body)
    assert error_of(r, 409)["code"] == "exists"


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"id": "CP4", "password": "short"}, "password", "weak_password"),
        ({"id": "CP4", "password": "has spaces in it 0123"}, "password", "weak_password"),
        ({"id": "CP4"}, "password", "invalid_body"),
        ({"password": PASSWORD}, "id", "invalid_body"),
        ({"id": "CP:4", "password": PASSWORD}, "id", "invalid_body"),
        (
            {"id": "CP4", "password": PASSWORD, "securityProfile": "1"},
            "securityProfile",
            "invalid_body",
        ),
        (
            {"id": "CP4", "password": PASSWORD, "securityProfile": 4},
            "securityProfile",
            "invalid_body",
        ),
        (
            {"id": "CP4", "password": PASSWORD, "registrationStatus": "Maybe"},
            "registrationStatus",
            "invalid_body",
        ),
        ({"id": "CP4", "password": PASSWORD, "color": "red"}, "color", "invalid_body"),
    ],
)
async def test_bad_registration_is_422_naming_the_field(
    node: Node, api: httpx.AsyncClient, body: dict[str, object], field: str, code: str
) -> None:
    error = error_of(await api.post("/api/v1/stations", json=body), 422)
    assert error["field"] == field
    assert error["code"] == code
    assert PASSWORD not in str(error)
    assert (await api.get("/api/v1/stations/CP4")).status_code == 404  # nothing was stored


async def test_bad_json_and_bad_query_are_422(node: Node, api: httpx.AsyncClient) -> None:
    r = await api.post("/api/v1/stations", content=b"{not json")
    assert error_of(r, 422)["code"] == "invalid_json"
    r = await api.post("/api/v1/stations", json=[1, 2])
    assert error_of(r, 422)["field"] == ""
    r = await api.get("/api/v1/stations", params={"limit": "many"})
    assert error_of(r, 422)["field"] == "limit"
    r = await api.get("/api/v1/transactions", params={"since": "yesterday"})
    assert error_of(r, 422)["field"] == "since"
    r = await api.get("/api/v1/commands", params={"cursor": "garbage"})
    assert error_of(r, 422)["field"] == "cursor"


async def test_nested_body_errors_name_the_path(
    node: Node, api: httpx.AsyncClient, bridge: AsyncioThread
) -> None:
    cp = await connected_station(node, api, bridge)
    r = await api.post(
        f"/api/v1/devices/{STATION}/variables",
        json={
            "variables": [
                {"component": "A", "variable": "B", "value": "1"},
                {"component": "A", "value": "1"},
            ]
        },
    )
    assert error_of(r, 422)["field"] == "variables.1.variable"
    # the generic route's payload is checked against the OCPP schema before it is sent
    r = await api.post(f"/api/v1/devices/{STATION}/ocpp/Reset", json={"type": "Sometime"})
    error = error_of(r, 422)
    assert error["code"] == "invalid_command"
    assert error["field"] == "type"
    r = await api.post(f"/api/v1/devices/{STATION}/ocpp/BootNotification", json={})
    assert error_of(r, 422)["field"] == "action"
    assert cp.received == []  # nothing invalid reached the station
    await cp.close()


async def test_station_that_does_not_answer_is_504(
    database_url: str, admin_env: str, bridge: AsyncioThread
) -> None:
    async with (
        api_node(database_url, **{"ocpp.response_timeout": 0.5}) as node,
        client(node) as api,
    ):
        cp = await connected_station(node, api, bridge)
        await cp.hold_resets()
        r = await api.post(f"/api/v1/devices/{STATION}/reset", json={})
        error = error_of(r, 504)
        assert error["code"] == "station_timeout"
        audit = await wait_audit(api, error["commandId"])
        assert audit["status"] == "timeout"
        await cp.release_resets()
        await cp.close()


async def test_second_station_with_wrong_password_cannot_connect(
    node: Node, api: httpx.AsyncClient, bridge: AsyncioThread
) -> None:
    """The password given at registration is the one the listener checks."""
    await api.post("/api/v1/stations", json={"id": "CP5", "password": PASSWORD})
    with pytest.raises(Exception, match="401"):
        await connect_charge_point(bridge, node.ocpp_port, "CP5", PASSWORD + "x")
