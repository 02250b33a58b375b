"""Wire-level behaviour of a whole node over a raw WebSocket: malformed frames get the Part 4
answer, authentication failures get the right HTTP status, and the node stays healthy."""

from __future__ import annotations

import base64

import orjson
import pytest
import trio
from trio_websocket import ConnectionClosed, ConnectionRejected, open_websocket_url

from .peer import PASSWORD, interop_node, register

BOOT = [
    2,
    "boot-1",
    "BootNotification",
    {"chargingStation": {"model": "M", "vendorName": "V"}, "reason": "PowerUp"},
]


def auth(station_id: str, password: str = PASSWORD) -> list[tuple[str, str]]:
    token = base64.b64encode(f"{station_id}:{password}".encode()).decode()
    return [("Authorization", f"Basic {token}")]


def url(node, station_id: str) -> str:
    return f"ws://127.0.0.1:{node.ocpp_port}/ocpp/{station_id}"


async def exchange(ws, frame) -> list:
    await ws.send_message(frame if isinstance(frame, str) else orjson.dumps(frame).decode())
    return orjson.loads(await ws.get_message())


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("not json at all", "RpcFrameworkError"),
        ('{"an": "object"}', "RpcFrameworkError"),
        ([2, "m1", "Heartbeat", "not an object"], "FormatViolation"),
        ([9, "m2", "Heartbeat", {}], "MessageTypeNotSupported"),
        ([2, "m3", "NoSuchAction", {}], "NotImplemented"),
        (
            [2, "m4", "StatusNotification", {"timestamp": "2026-01-01T00:00:00Z"}],
            "OccurrenceConstraintViolation",
        ),
        ([2, "m5", "MeterValues", {"evseId": "one", "meterValue": []}], "TypeConstraintViolation"),
        (
            [2, "m6", "Authorize", {"idToken": {"idToken": "x" * 40, "type": "Bogus"}}],
            "PropertyConstraintViolation",
        ),
        ([2, "x" * 37, "Heartbeat", {}], "RpcFrameworkError"),
    ],
)
async def test_malformed_frames_get_the_part4_callerror(database_url, frame, code):
    """Part 4 4.2.3 / 4.3: each malformed message is answered with its CALLERROR code and the
    connection stays usable."""
    async with interop_node(database_url) as (node, _):
        register(database_url, "RAW1")
        async with open_websocket_url(
            url(node, "RAW1"), subprotocols=["ocpp2.0.1"], extra_headers=auth("RAW1")
        ) as ws:
            assert (await exchange(ws, BOOT))[2]["status"] == "Accepted"
            reply = await exchange(ws, frame)
            assert reply[0] == 4
            assert reply[2] == code
            beat = await exchange(ws, [2, "ok", "Heartbeat", {}])
            assert beat[:2] == [3, "ok"]


async def test_b01_fr_08_messages_before_boot_get_security_error(database_url):
    async with interop_node(database_url) as (node, _):
        register(database_url, "RAW2")
        async with open_websocket_url(
            url(node, "RAW2"), subprotocols=["ocpp2.0.1"], extra_headers=auth("RAW2")
        ) as ws:
            reply = await exchange(ws, [2, "early", "Heartbeat", {}])
            assert reply[:3] == [4, "early", "SecurityError"]


async def test_two_calls_without_waiting_are_both_answered_in_order(database_url):
    async with interop_node(database_url) as (node, _):
        register(database_url, "RAW3")
        async with open_websocket_url(
            url(node, "RAW3"), subprotocols=["ocpp2.0.1"], extra_headers=auth("RAW3")
        ) as ws:
            await exchange(ws, BOOT)
            await ws.send_message(orjson.dumps([2, "a", "Heartbeat", {}]).decode())
            await ws.send_message(orjson.dumps([2, "b", "Heartbeat", {}]).decode())
            first = orjson.loads(await ws.get_message())
            second = orjson.loads(await ws.get_message())
            assert [first[:2], second[:2]] == [[3, "a"], [3, "b"]]


@pytest.mark.parametrize(
    ("station_id", "headers", "status"),
    [
        ("RAW4", auth("RAW4", "wrong-password-1234567"), 401),  # TC_A_02_CSMS
        ("NOBODY", auth("NOBODY"), 404),
        ("RAW4", auth("SOMEONE-ELSE"), 401),  # A00.FR.204: username is the station id
        ("RAW4", [], 401),
    ],
)
async def test_tc_a_02_basic_auth_failures_are_refused(database_url, station_id, headers, status):
    async with interop_node(database_url) as (node, _):
        register(database_url, "RAW4")
        with pytest.raises(ConnectionRejected) as info:
            async with open_websocket_url(
                url(node, station_id), subprotocols=["ocpp2.0.1"], extra_headers=headers
            ):
                pass
        assert info.value.status_code == status
        assert b"password" not in (info.value.body or b"")


async def test_tc_a_01_good_credentials_and_replaced_connection(database_url):
    """TC_A_01_CSMS, and a second connection with the same id replaces the first."""
    async with interop_node(database_url) as (node, _):
        register(database_url, "RAW5")
        async with open_websocket_url(
            url(node, "RAW5"), subprotocols=["ocpp2.0.1"], extra_headers=auth("RAW5")
        ) as first:
            assert (await exchange(first, BOOT))[2]["status"] == "Accepted"
            async with open_websocket_url(
                url(node, "RAW5"), subprotocols=["ocpp2.0.1"], extra_headers=auth("RAW5")
            ) as second:
                assert (await exchange(second, BOOT))[2]["status"] == "Accepted"
                with trio.fail_after(10), pytest.raises(ConnectionClosed):
                    await first.get_message()  # the old socket is closed
    assert len(node.stations) == 0


async def test_only_unsupported_subprotocols_get_no_header_and_a_close(database_url):
    """Part 4 3.2: no acceptable subprotocol: handshake without the header, then close."""
    async with interop_node(database_url) as (node, _):
        register(database_url, "RAW6")
        async with open_websocket_url(
            url(node, "RAW6"), subprotocols=["ocpp1.6"], extra_headers=auth("RAW6")
        ) as ws:
            assert ws.subprotocol is None
            with trio.fail_after(10), pytest.raises(ConnectionClosed):
                await ws.get_message()


async def test_auto_register_accepts_an_unknown_station_with_a_strong_password(database_url):
    """`ocpp.auto_register` (development only): an unknown station is registered on its first
    connection, with its password stored hashed; a weak password is still refused."""
    async with interop_node(database_url, **{"ocpp.auto_register": True}) as (node, _):
        async with open_websocket_url(
            url(node, "NEW1"), subprotocols=["ocpp2.0.1"], extra_headers=auth("NEW1")
        ) as ws:
            assert (await exchange(ws, BOOT))[2]["status"] == "Accepted"
        with pytest.raises(ConnectionRejected) as info:
            async with open_websocket_url(
                url(node, "NEW2"), subprotocols=["ocpp2.0.1"], extra_headers=auth("NEW2", "weak")
            ):
                pass
        assert info.value.status_code == 401
