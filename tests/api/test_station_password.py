"""End to end: the station's Basic-auth password changed through SetVariables
``SecurityCtrlr.BasicAuthPassword`` (A01), with an `ocpp`-package charge point reconnecting."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from websockets.exceptions import InvalidStatus

from csms.actors import Node
from csms.runtime import AsyncioThread

from .chargepoint import Answering, TestChargePoint, connect_charge_point
from .conftest import PASSWORD
from .test_message_limits import audited

STATION = "CP-PASSWORD"
NEW_PASSWORD = "New-Password_0123456789"


class Refusing(Answering):  # type: ignore[misc]
    """Rejects every SetVariables entry, as a station that cannot store the password."""

    set_variables_status = "Rejected"


async def connect(
    node: Node, bridge: AsyncioThread, password: str, cls: type[Answering] = Answering
) -> TestChargePoint:
    cp = await connect_charge_point(bridge, node.ocpp_port, STATION, password, cls=cls)
    assert (await cp.boot()).status == "Accepted"
    return cp


async def refused(node: Node, bridge: AsyncioThread, password: str) -> int:
    """The HTTP status the handshake with ``password`` is refused with."""
    with pytest.raises(InvalidStatus) as caught:
        await connect_charge_point(bridge, node.ocpp_port, STATION, password)
    return int(caught.value.response.status_code)


def password_entry(password: str) -> dict[str, Any]:
    return {
        "component": {"name": "SecurityCtrlr"},
        "variable": {"name": "BasicAuthPassword"},
        "attributeValue": password,
    }


async def set_password(api: httpx.AsyncClient, path: str, password: str) -> httpx.Response:
    """SetVariables of the new password through the REST ``variables`` endpoint or the generic
    one, with another variable beside it."""
    base = f"/api/v1/devices/{STATION}"
    if path == "variables":
        body = {
            "variables": [
                {"component": "OCPPCommCtrlr", "variable": "HeartbeatInterval", "value": "60"},
                {"component": "SecurityCtrlr", "variable": "BasicAuthPassword", "value": password},
            ]
        }
        return await api.post(f"{base}/variables", json=body)
    heartbeat = {
        "component": {"name": "OCPPCommCtrlr"},
        "variable": {"name": "HeartbeatInterval"},
        "attributeValue": "60",
    }
    payload = {"setVariableData": [heartbeat, password_entry(password)]}
    return await api.post(f"{base}/ocpp/SetVariables", json=payload)


def results(r: httpx.Response) -> list[dict[str, Any]]:
    body = r.json()
    return list(body.get("response", body)["setVariableResult"])


@pytest.fixture
async def registered(api: httpx.AsyncClient) -> None:
    r = await api.post("/api/v1/stations", json={"id": STATION, "password": PASSWORD})
    assert r.status_code == 201, r.text


@pytest.mark.parametrize("path", ["variables", "generic"])
async def test_tc_a_09_accepted_password_replaces_the_old_one(
    node: Node, api: httpx.AsyncClient, bridge: AsyncioThread, registered: None, path: str
) -> None:
    """TC_A_09_CSMS, A01.FR.03: once the station accepts the new BasicAuthPassword, it
    reconnects with it and the old one is refused; the password is in no audit record."""
    cp = await connect(node, bridge, PASSWORD)
    r = await set_password(api, path, NEW_PASSWORD)
    assert r.status_code == 200, r.text
    assert [x["attributeStatus"] for x in results(r)] == ["Accepted", "Accepted"]
    # (the station's limits, 300 bytes, put each entry in a request of its own)
    sent = [d for a, kw in cp.received if a == "SetVariables" for d in kw["set_variable_data"]]
    assert [d["attribute_value"] for d in sent] == ["60", NEW_PASSWORD]  # to the station in clear
    audit = await audited(api, "SetVariables", len(sent), STATION)
    assert [d["attributeValue"] for row in audit for d in row["payload"]["setVariableData"]] == [
        "60",
        "***",
    ]
    assert NEW_PASSWORD not in json.dumps(audit)
    assert NEW_PASSWORD not in r.text  # nor echoed in the answer
    await cp.close()

    cp = await connect(node, bridge, NEW_PASSWORD)
    await cp.close()
    assert await refused(node, bridge, PASSWORD) == 401


async def test_tc_a_10_rejected_password_keeps_the_old_one(
    node: Node, api: httpx.AsyncClient, bridge: AsyncioThread, registered: None
) -> None:
    """TC_A_10_CSMS, A01.FR.04: a station that does not accept the new password keeps
    connecting with the old one; the new one is refused."""
    cp = await connect(node, bridge, PASSWORD, cls=Refusing)
    r = await set_password(api, "generic", NEW_PASSWORD)
    assert r.status_code == 200, r.text
    assert [x["attributeStatus"] for x in results(r)] == ["Rejected", "Rejected"]
    assert NEW_PASSWORD not in json.dumps(await audited(api, "SetVariables", 1, STATION))
    await cp.close()

    cp = await connect(node, bridge, PASSWORD)
    await cp.close()
    assert await refused(node, bridge, NEW_PASSWORD) == 401


@pytest.mark.parametrize(
    ("path", "field"),
    [("generic", "setVariableData[1].attributeValue"), ("variables", "variables.1.value")],
)
@pytest.mark.parametrize(
    "weak", ["too-short-123", "x" * 41, "has space in it 0123", "non-ascii-é-0123456789"]
)
async def test_weak_password_is_refused_before_sending(
    node: Node,
    api: httpx.AsyncClient,
    bridge: AsyncioThread,
    registered: None,
    weak: str,
    path: str,
    field: str,
) -> None:
    """A01: a password the listener would refuse is never sent to the station (422 naming
    the field), so the station cannot lock itself out."""
    cp = await connect(node, bridge, PASSWORD)
    r = await set_password(api, path, weak)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "invalid_command"
    assert error["field"] == field
    assert weak not in r.text
    assert cp.received == []
    await cp.close()


async def test_password_set_twice_in_one_request_is_refused(
    node: Node, api: httpx.AsyncClient, bridge: AsyncioThread, registered: None
) -> None:
    cp = await connect(node, bridge, PASSWORD)
    payload = {"setVariableData": [password_entry(NEW_PASSWORD), password_entry(NEW_PASSWORD)]}
    r = await api.post(f"/api/v1/devices/{STATION}/ocpp/SetVariables", json=payload)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == "setVariableData[1].attributeValue"
    assert cp.received == []
    await cp.close()
