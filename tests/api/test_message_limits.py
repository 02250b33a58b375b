"""End to end: a station that limits its request lists (ItemsPerMessage, BytesPerMessage) gets
long requests as several, one after another, and the REST answer is the merged one.

The `ocpp`-package station here refuses, as B06.FR.16 lets it, a request with more entries than
it reported (CALLERROR OccurrenceConstraintViolation), and records the size of every frame it
receives, so an exceeded limit cannot go unnoticed.
"""

from __future__ import annotations

from typing import Any, ClassVar

import httpx
import orjson
import trio
from ocpp.exceptions import FormatViolationError, OccurrenceConstraintViolationError
from ocpp.routing import on
from ocpp.v201 import call as req
from ocpp.v201 import call_result as res

from csms.actors import Node
from csms.runtime import AsyncioThread
from csms.storage import device_model

from .chargepoint import Answering, TestChargePoint, connect_charge_point
from .conftest import PASSWORD
from .test_device_commands import wait_audit

STATION = "CP-LIMITS"
NOW = "2025-01-01T00:00:00Z"
ITEMS, BYTES = "ItemsPerMessage", "BytesPerMessage"


class Limited(Answering):  # type: ignore[misc]
    """Answers GetVariables for its limits from ``limits`` ((component, variable, instance) to
    value; other limits are UnknownVariable) and enforces its items limits."""

    limits: ClassVar[dict[tuple[str, str, str], str]] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.frames: list[tuple[str, int]] = []  # (action, bytes) of every CALL received

    async def route_message(self, raw_msg: str) -> Any:
        if raw_msg.startswith("[2,"):
            self.frames.append((raw_msg.split('"')[3], len(raw_msg.encode())))
        return await super().route_message(raw_msg)

    def _enforce(self, action: str, entries: list[Any], component: str = "DeviceDataCtrlr") -> None:
        limit = self.limits.get((component, ITEMS, action))
        if limit is not None and len(entries) > int(limit):
            raise OccurrenceConstraintViolationError(description=f"more than {limit} entries")

    def _value(self, d: dict[str, Any]) -> dict[str, Any]:
        key = (d["component"]["name"], d["variable"]["name"], d["variable"].get("instance"))
        if key[1] in (ITEMS, BYTES):
            if key not in self.limits:
                return {"attribute_status": "UnknownVariable"}
            return {"attribute_status": "Accepted", "attribute_value": self.limits[key]}
        return {"attribute_status": "Accepted", "attribute_value": d["variable"]["name"]}

    @on("GetVariables")
    async def on_get_variables(self, get_variable_data: list[dict[str, Any]], **kw: Any) -> Any:
        self._note("GetVariables", {"get_variable_data": get_variable_data, **kw})
        self._enforce("GetVariables", get_variable_data)
        return res.GetVariables(
            get_variable_result=[
                {"component": d["component"], "variable": d["variable"], **self._value(d)}
                for d in get_variable_data
            ]
        )

    @on("SetVariables")
    async def on_set_variables(self, set_variable_data: list[dict[str, Any]], **kw: Any) -> Any:
        self._enforce("SetVariables", set_variable_data)
        return await super().on_set_variables(set_variable_data, **kw)

    @on("ClearVariableMonitoring")
    async def on_clear_monitoring(self, id: list[int], **kw: Any) -> Any:
        self._note("ClearVariableMonitoring", {"id": id})
        self._enforce("ClearVariableMonitoring", id, "MonitoringCtrlr")
        return res.ClearVariableMonitoring(
            clear_monitoring_result=[{"status": "NotFound", "id": i} for i in id]
        )

    @on("GetReport")
    async def on_get_report(self, request_id: int, **kw: Any) -> Any:
        parts = kw.get("component_variable", [])
        self._note("GetReport", {"request_id": request_id, "component_variable": parts})
        self._enforce("GetReport", parts)
        first = sum(action == "GetReport" for action, _ in self.received) == 1
        return res.GetReport(status="Accepted" if first else "EmptyResultSet")  # nothing more


def limited(limits: dict[tuple[str, str, str], str]) -> type[Limited]:
    return type("Station", (Limited,), {"limits": limits})


async def station(
    node: Node, api: httpx.AsyncClient, bridge: AsyncioThread, cls: type[Limited]
) -> TestChargePoint:
    r = await api.post("/api/v1/stations", json={"id": STATION, "password": PASSWORD})
    assert r.status_code == 201, r.text
    cp = await connect_charge_point(bridge, node.ocpp_port, STATION, PASSWORD, cls=cls)
    assert (await cp.boot()).status == "Accepted"
    return cp


async def report(cp: TestChargePoint, limits: dict[tuple[str, str, str], str]) -> None:
    """The station reports its limits (NotifyReport, as in a base report)."""
    data = [
        {
            "component": {"name": component},
            "variable": {"name": variable, "instance": instance},
            "variable_attribute": [{"type": "Actual", "value": value, "mutability": "ReadOnly"}],
            "variable_characteristics": {"data_type": "integer", "supports_monitoring": False},
        }
        for (component, variable, instance), value in limits.items()
    ]
    message = req.NotifyReport(request_id=1, generated_at=NOW, seq_no=0, report_data=data)
    await cp.bridge.run(cp.cp.call, message)


def variables(n: int) -> list[dict[str, Any]]:
    return [
        {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": f"Variable{i}"}}
        for i in range(n)
    ]


def sizes(cp: TestChargePoint, action: str) -> list[int]:
    """How many entries each request of ``action`` the station received had."""
    field = {"GetVariables": "get_variable_data", "ClearVariableMonitoring": "id"}[action]
    return [len(kw[field]) for a, kw in cp.received if a == action]


async def audited(
    api: httpx.AsyncClient, action: str, count: int, station_id: str = STATION
) -> list[dict[str, Any]]:
    """The ``count`` audited commands of ``action``, oldest first, once all are committed."""
    query = {"stationId": station_id, "action": action}
    with trio.fail_after(10):
        while True:
            r = await api.get("/api/v1/commands", params=query)
            items = r.json()["items"]
            if len(items) >= count:
                break
            await trio.lowlevel.checkpoint()
    rows = [await wait_audit(api, row["id"]) for row in items]
    return sorted(rows, key=lambda row: row["requestedAt"])


async def test_tc_b_08_get_variables_split_by_reported_items_per_message(
    node: Node, api: httpx.AsyncClient, bridge: AsyncioThread
) -> None:
    """TC_B_08_CSMS, B06.FR.05: the station reported ItemsPerMessageGetVariables 4; ten
    variables go out as requests of 4, 4 and 2, and the answer has all ten results in order."""
    limits = {
        ("DeviceDataCtrlr", ITEMS, "GetVariables"): "4",
        ("DeviceDataCtrlr", BYTES, "GetVariables"): "65000",
    }
    cp = await station(node, api, bridge, limited(limits))
    await report(cp, limits)
    r = await api.post(
        f"/api/v1/devices/{STATION}/ocpp/GetVariables", json={"getVariableData": variables(10)}
    )
    assert r.status_code == 200, r.text
    results = r.json()["getVariableResult"]
    assert [x["variable"]["name"] for x in results] == [f"Variable{i}" for i in range(10)]
    assert [x["attributeValue"] for x in results] == [f"Variable{i}" for i in range(10)]
    assert sizes(cp, "GetVariables") == [4, 4, 2]
    # each request is in the audit with what it carried; the answer's id is the first one's
    rows = await audited(api, "GetVariables", 3)
    assert [len(row["payload"]["getVariableData"]) for row in rows] == [4, 4, 2]
    assert r.headers["X-Command-Id"] == rows[0]["id"]
    assert [v for row in rows for v in row["payload"]["getVariableData"]] == variables(10)
    await cp.close()


async def test_tc_b_08_limits_reported_on_an_earlier_connection_come_from_the_device_model(
    node: Node, api: httpx.AsyncClient, bridge: AsyncioThread
) -> None:
    """TC_B_08_CSMS, B06.FR.05: limits the station reported before (stored in
    device_variables) apply after it reconnects, without asking it again."""
    limits = {
        ("DeviceDataCtrlr", ITEMS, "GetVariables"): "3",
        ("DeviceDataCtrlr", BYTES, "GetVariables"): "65000",
    }
    cp = await station(node, api, bridge, limited(limits))
    await report(cp, limits)
    await cp.close()
    with trio.fail_after(10):  # the report is stored behind the answer to it
        while len(await node.database.run(device_model.station_values, STATION, limits)) < 2:
            await trio.lowlevel.checkpoint()
    cp = await connect_charge_point(bridge, node.ocpp_port, STATION, PASSWORD, cls=limited(limits))
    r = await api.post(
        f"/api/v1/devices/{STATION}/ocpp/GetVariables", json={"getVariableData": variables(7)}
    )
    assert r.status_code == 200, r.text
    assert len(r.json()["getVariableResult"]) == 7
    assert sizes(cp, "GetVariables") == [3, 3, 1]
    await cp.close()


async def test_tc_b_08_limits_not_reported_are_asked_for_once(
    node: Node, api: httpx.AsyncClient, bridge: AsyncioThread
) -> None:
    """TC_B_08_CSMS, B06.FR.05: without a report the CSMS asks the station for its
    GetVariables limits (one request of two entries), once for the connection."""
    cp = await station(
        node, api, bridge, limited({("DeviceDataCtrlr", ITEMS, "GetVariables"): "4"})
    )
    url = f"/api/v1/devices/{STATION}/ocpp/GetVariables"
    r = await api.post(url, json={"getVariableData": variables(10)})
    assert r.status_code == 200, r.text
    assert len(r.json()["getVariableResult"]) == 10
    r = await api.post(url, json={"getVariableData": variables(5)})
    assert [x["variable"]["name"] for x in r.json()["getVariableResult"]] == [
        f"Variable{i}" for i in range(5)
    ]
    assert sizes(cp, "GetVariables") == [2, 4, 4, 2, 4, 1]
    asked = cp.received[0][1]["get_variable_data"]
    assert [(d["variable"]["name"], d["variable"]["instance"]) for d in asked] == [
        (ITEMS, "GetVariables"),
        (BYTES, "GetVariables"),
    ]
    await cp.close()


async def test_b05_set_variables_split_by_items_per_message(
    node: Node, api: httpx.AsyncClient, bridge: AsyncioThread
) -> None:
    """B05.FR.11: seven variables set through the REST endpoint reach a station that takes
    three per SetVariables as requests of 3, 3 and 1; the answer lists all seven in order.
    Its limits were asked for first, within its GetVariables limit of one entry."""
    limits = {
        ("DeviceDataCtrlr", ITEMS, "GetVariables"): "1",
        ("DeviceDataCtrlr", ITEMS, "SetVariables"): "3",
    }
    cp = await station(node, api, bridge, limited(limits))
    body = [{"component": "OCPPCommCtrlr", "variable": f"V{i}", "value": str(i)} for i in range(7)]
    r = await api.post(f"/api/v1/devices/{STATION}/variables", json={"variables": body})
    assert r.status_code == 200, r.text
    results = r.json()["response"]["setVariableResult"]
    assert [x["variable"]["name"] for x in results] == [f"V{i}" for i in range(7)]
    # GetVariables' own limits, two entries: refused (OccurrenceConstraintViolation), so one at
    # a time (items 1, no byte limit); then SetVariables' two limits, one per request
    assert sizes(cp, "GetVariables") == [2, 1, 1, 1, 1]
    assert [a for a, _ in cp.received][-3:] == [
        "SetVariables",
        "SetVariables",
        "SetVariables",
    ]
    assert [len(kw["set_variable_data"]) for a, kw in cp.received if a == "SetVariables"] == [
        3,
        3,
        1,
    ]
    rows = await audited(api, "SetVariables", 3)
    assert [len(row["payload"]["setVariableData"]) for row in rows] == [3, 3, 1]
    await cp.close()


async def test_b05_set_variables_split_by_bytes_per_message(
    node: Node, api: httpx.AsyncClient, bridge: AsyncioThread
) -> None:
    """B05, BytesPerMessageSetVariables: no SetVariables frame (the whole CALL) is longer than
    the station reported; an entry that cannot fit on its own is refused before sending."""
    limit = 400
    limits = {("DeviceDataCtrlr", BYTES, "SetVariables"): str(limit)}
    cp = await station(node, api, bridge, limited(limits))
    await report(cp, {**limits, ("DeviceDataCtrlr", ITEMS, "SetVariables"): "100"})
    body = [
        {"component": "OCPPCommCtrlr", "variable": f"Variable{i}", "value": "x" * 40}
        for i in range(9)
    ]
    r = await api.post(f"/api/v1/devices/{STATION}/variables", json={"variables": body})
    assert r.status_code == 200, r.text
    assert len(r.json()["response"]["setVariableResult"]) == 9
    frames = [size for action, size in cp.cp.frames if action == "SetVariables"]
    assert len(frames) > 1
    assert max(frames) <= limit
    # greedy: each request but the last could not have taken one more entry
    entry = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "Variable0"}}
    size = len(orjson.dumps({**entry, "attributeValue": "x" * 40}))
    assert all(frame + 1 + size > limit for frame in frames[:-1])
    before = len(cp.received)
    body[4]["value"] = "y" * 400
    r = await api.post(f"/api/v1/devices/{STATION}/variables", json={"variables": body})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == "variables.4"
    assert len(cp.received) == before
    await cp.close()


async def test_tc_n_18_clear_monitoring_split_by_the_limit_the_operator_read(
    node: Node, api: httpx.AsyncClient, bridge: AsyncioThread
) -> None:
    """TC_N_18_CSMS, N06.FR.04: the operator reads ItemsPerMessageClearVariableMonitoring;
    clearing more monitors than that goes out as several ClearVariableMonitoring requests."""
    limits = {("MonitoringCtrlr", ITEMS, "ClearVariableMonitoring"): "2"}
    cp = await station(node, api, bridge, limited(limits))
    r = await api.get(
        f"/api/v1/devices/{STATION}/variables",
        params={
            "component": "MonitoringCtrlr",
            "variable": ITEMS,
            "variableInstance": "ClearVariableMonitoring",
        },
    )
    assert r.json()["response"]["getVariableResult"][0]["attributeValue"] == "2"
    r = await api.post(
        f"/api/v1/devices/{STATION}/ocpp/ClearVariableMonitoring", json={"id": [1, 2, 3, 4, 5]}
    )
    assert r.status_code == 200, r.text
    assert [x["id"] for x in r.json()["clearMonitoringResult"]] == [1, 2, 3, 4, 5]
    # the byte limit, still unknown, was asked for alone; the item limit was not asked again
    assert sizes(cp, "GetVariables") == [1, 1]
    assert cp.received[1][1]["get_variable_data"][0]["variable"] == {
        "name": BYTES,
        "instance": "ClearVariableMonitoring",
    }
    assert sizes(cp, "ClearVariableMonitoring") == [2, 2, 1]
    await cp.close()


async def test_b08_get_report_split_keeps_its_request_id_and_merges_the_status(
    node: Node, api: httpx.AsyncClient, bridge: AsyncioThread
) -> None:
    """B08.FR.06: three component variables for a station taking two per GetReport are two
    requests with the caller's requestId; one part accepted, the other with nothing to report,
    is Accepted."""
    limits = {
        ("DeviceDataCtrlr", ITEMS, "GetReport"): "2",
        ("DeviceDataCtrlr", BYTES, "GetReport"): "5000",
    }
    cp = await station(node, api, bridge, limited(limits))
    await report(cp, limits)
    wanted = [{"component": {"name": f"Component{i}"}} for i in range(3)]
    r = await api.post(
        f"/api/v1/devices/{STATION}/ocpp/GetReport",
        json={"requestId": 77, "componentVariable": wanted},
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "Accepted"}
    parts = [kw for a, kw in cp.received if a == "GetReport"]
    assert [p["request_id"] for p in parts] == [77, 77]
    assert [len(p["component_variable"]) for p in parts] == [2, 1]
    await cp.close()


class BreaksOnSecondPart(Limited):  # type: ignore[misc]
    @on("SetVariables")
    async def on_set_variables(self, set_variable_data: list[dict[str, Any]], **kw: Any) -> Any:
        if any(d["variable"]["name"] == "Broken" for d in set_variable_data):
            raise FormatViolationError(description="cannot parse it")
        return await super().on_set_variables(set_variable_data, **kw)


async def test_a_failing_part_ends_the_command_with_its_error(
    node: Node, api: httpx.AsyncClient, bridge: AsyncioThread
) -> None:
    """A part answered with a CALLERROR ends the command (502 naming the part); the part before
    it was applied and both are in the audit."""
    limits = {
        ("DeviceDataCtrlr", ITEMS, "SetVariables"): "2",
        ("DeviceDataCtrlr", BYTES, "SetVariables"): "5000",
    }
    cls = type("Station", (BreaksOnSecondPart,), {"limits": limits})
    cp = await station(node, api, bridge, cls)
    await report(cp, limits)
    body = [
        {"component": "OCPPCommCtrlr", "variable": name, "value": "1"}
        for name in ("A", "B", "Broken", "D")
    ]
    r = await api.post(f"/api/v1/devices/{STATION}/variables", json={"variables": body})
    assert r.status_code == 502, r.text
    error = r.json()["error"]
    assert error["ocppCode"] == "FormatViolation"
    assert "part 2 of 2" in error["message"]
    rows = await audited(api, "SetVariables", 2)
    assert [row["status"] for row in rows] == ["responded", "error"]
    assert rows[1]["id"] == error["commandId"]
    await cp.close()
