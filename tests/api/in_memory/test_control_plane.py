"""The control API against an in-memory ControlPlane (tests/api/fake_control_plane.py): no
PostgreSQL, no actors, no node. The same answers as against a whole node (test_errors.py,
test_device_commands.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
import psycopg
import trio

from csms.api import BOOTSTRAP_NAME
from csms.commands import StationCallError, StationDisconnected
from csms.storage import stations

from ..fake_control_plane import FakeControlPlane
from .conftest import accepted

RESET = "/api/v1/devices/CP001/reset"


async def test_a_command_goes_through_the_gateway_and_its_answer_comes_back(
    control: FakeControlPlane, api: httpx.AsyncClient
) -> None:
    control.connect("CP001", accepted)
    started = trio.current_time()
    reply = await api.post(RESET, json={"type": "OnIdle", "evseId": 1})
    assert reply.status_code == 200, reply.text
    assert reply.json() == {
        "commandId": "cmd-1",
        "action": "Reset",
        "request": {"type": "OnIdle", "evseId": 1},
        "response": {"status": "Accepted"},
    }
    [sent] = control.gateway.sent
    assert (sent.station_id, sent.action, dict(sent.payload)) == (
        "CP001",
        "Reset",
        {"type": "OnIdle", "evseId": 1},
    )
    assert sent.requested_by == BOOTSTRAP_NAME
    # the caller's absolute deadline: the response timeout plus room to wait behind others
    assert started + 10 < sent.deadline < trio.current_time() + 30


async def test_an_unknown_station_is_404(control: FakeControlPlane, api: httpx.AsyncClient) -> None:
    reply = await api.post(RESET, json={"type": "Immediate"})
    assert reply.status_code == 404
    assert reply.json()["error"]["code"] == "not_found"
    assert control.gateway.sent == []


async def test_a_registered_station_that_is_not_connected_is_409(
    control: FakeControlPlane, api: httpx.AsyncClient
) -> None:
    control.register("CP001")
    reply = await api.post(RESET, json={"type": "Immediate"})
    assert reply.status_code == 409
    assert reply.json()["error"]["code"] == "station_disconnected"


async def test_a_station_that_does_not_answer_in_time_is_504(
    control: FakeControlPlane, api: httpx.AsyncClient, autojump_clock: trio.abc.Clock
) -> None:
    control.connect("CP001", None)  # never answers
    started = trio.current_time()
    reply = await api.post(RESET, json={"type": "Immediate"})
    assert reply.status_code == 504
    assert reply.json()["error"]["code"] == "station_timeout"
    # given up at the command's deadline, not before
    assert trio.current_time() >= control.gateway.sent[0].deadline > started + 10


async def test_a_call_error_of_the_station_is_502_with_its_code(
    control: FakeControlPlane, api: httpx.AsyncClient
) -> None:
    def refuse(action: str, payload: Mapping[str, Any]) -> Mapping[str, Any]:
        raise StationCallError(
            "CP001 answered Reset with a CALLERROR",
            ocpp_code="NotSupported",
            description="no",
            details={},
            command_id="cmd-9",
        )

    control.connect("CP001", refuse)
    reply = await api.post(RESET, json={"type": "Immediate"})
    assert reply.status_code == 502
    error = reply.json()["error"]
    assert (error["code"], error["ocppCode"], error["commandId"]) == (
        "station_error",
        "NotSupported",
        "cmd-9",
    )


async def test_a_station_gone_before_answering_is_409_with_an_unknown_outcome(
    control: FakeControlPlane, api: httpx.AsyncClient
) -> None:
    """Sent, then the connection ended: the station may have carried the command out, so the
    answer must not say it did not reach the station."""

    def gone(action: str, payload: Mapping[str, Any]) -> Mapping[str, Any]:
        raise StationDisconnected("CP001 disconnected before answering Reset", command_id="cmd-7")

    control.connect("CP001", gone)
    reply = await api.post(RESET, json={"type": "Immediate"})
    assert reply.status_code == 409
    error = reply.json()["error"]
    assert (error["code"], error["commandId"]) == ("station_disconnected", "cmd-7")
    assert error["message"] == (
        "CP001 disconnected before answering Reset; the command was sent, its outcome is"
        " unknown (see the command audit)"
    )


async def test_a_bad_body_is_422_naming_the_field_and_nothing_is_sent(
    control: FakeControlPlane, api: httpx.AsyncClient
) -> None:
    control.connect("CP001", accepted)
    reply = await api.post(RESET, json={"type": "Sometimes"})
    assert reply.status_code == 422
    assert reply.json()["error"]["field"] == "type"
    assert control.gateway.sent == []


async def test_readiness_comes_from_the_control_plane(api: httpx.AsyncClient) -> None:
    reply = await api.get("/readyz")
    assert reply.status_code == 200
    assert reply.json()["checks"] == {"database": True, "ocppListener": True, "accepting": True}


async def test_an_unreachable_database_is_a_503_naming_it_not_a_500(
    control: FakeControlPlane, api: httpx.AsyncClient
) -> None:
    """PostgreSQL stopped under a request (the soak's pg-stop): the client is told to try again."""

    def refused(*args: Any) -> Any:
        raise psycopg.OperationalError("connection refused")

    control.database.answers[stations.get] = refused
    reply = await api.get("/api/v1/stations/CP001")
    assert reply.status_code == 503, reply.text
    assert reply.json()["error"]["code"] == "database_unavailable"
