"""Ping/pong dead-peer detection and misbehaving peers, driven by a raw sans-IO client.

Time is trio's MockClock with autojump: both ends run in this process over loopback, so the clock
only jumps when every task is waiting for a timer.
"""

from __future__ import annotations

import pytest
import trio
import trio.testing
from websockets.frames import Opcode
from websockets.trio.client import connect

from csms.transport import ConnectionClosed, OcppWebSocket, StaticAuthenticator, WebSocketSettings

from .helpers import PASSWORD, RawClient, Recorder, basic, close_codes, running_server

AUTH = StaticAuthenticator.from_passwords({"CS001": PASSWORD})


async def test_a_peer_that_never_answers_pings_is_dropped(autojump_clock):
    recorder = Recorder()
    settings = WebSocketSettings(ping_interval=20.0, ping_timeout=10.0)
    async with running_server(recorder, settings, AUTH) as server:
        raw = await RawClient.connect(server.ports[0], "/ocpp/CS001", headers=basic("CS001"))
        assert raw.response.status_code == 101
        start = trio.current_time()
        await recorder.ended.wait()
        assert trio.current_time() - start == pytest.approx(30.0)  # interval + timeout
        assert (recorder.closed[0].code, recorder.closed[0].reason) == (
            1011,
            "keepalive ping timeout",
        )
        frames = await raw.read_until_eof()
        assert [f.opcode for f in frames] == [Opcode.PING]  # then TCP closed, no close frame


async def test_a_peer_that_answers_pings_stays_connected(autojump_clock):
    recorder = Recorder()
    settings = WebSocketSettings(ping_interval=20.0, ping_timeout=10.0)
    async with running_server(recorder, settings, AUTH) as server:
        async with connect(
            f"ws://127.0.0.1:{server.ports[0]}/ocpp/CS001",
            subprotocols=["ocpp2.0.1"],
            additional_headers=basic("CS001"),
            ping_interval=None,  # the client only answers the server's pings
        ) as ws:
            await trio.sleep(200)  # ten ping rounds of virtual time (MockClock)
            await ws.send("still here")
            assert await ws.recv() == "still here"
        assert recorder.closed[0].code == 1000


async def test_pings_can_be_disabled(autojump_clock):
    recorder = Recorder()
    settings = WebSocketSettings(ping_interval=None)
    async with running_server(recorder, settings, AUTH) as server:
        raw = await RawClient.connect(server.ports[0], "/ocpp/CS001", headers=basic("CS001"))
        with trio.move_on_after(3600):
            await recorder.ended.wait()
        assert not recorder.ended.is_set()
        raw.proto.send_text(b"hello")
        await raw.send_queued()
        await raw.aclose()
        await recorder.ended.wait()


async def test_invalid_utf8_closes_with_1007():
    recorder = Recorder()
    async with running_server(recorder, WebSocketSettings(), AUTH) as server:
        raw = await RawClient.connect(server.ports[0], "/ocpp/CS001", headers=basic("CS001"))
        raw.proto.send_text(b"\xff\xfe")
        await raw.send_queued()
        assert close_codes(await raw.read_until_eof()) == [1007]
        await raw.aclose()
        await recorder.ended.wait()
        assert recorder.closed[0].code == 1007


async def test_messages_before_a_close_frame_are_delivered_first():
    received: list[str] = []
    outcome: list[ConnectionClosed] = []

    async def listen(conn: OcppWebSocket) -> None:
        try:
            while True:
                received.append(await conn.receive_text())
        except ConnectionClosed as exc:
            outcome.append(exc)

    async with running_server(listen, WebSocketSettings(), AUTH) as server:
        raw = await RawClient.connect(server.ports[0], "/ocpp/CS001", headers=basic("CS001"))
        raw.proto.send_text(b"one")
        raw.proto.send_text(b"two")
        raw.proto.send_close(1000)
        await raw.send_queued()  # all in one segment
        assert close_codes(await raw.read_until_eof()) == [1000]
        await raw.aclose()
    assert received == ["one", "two"]
    assert outcome[0].code == 1000


async def test_stopping_the_listener_closes_connections_with_1001(autojump_clock):
    recorder = Recorder()
    async with running_server(recorder, WebSocketSettings(), AUTH) as server:
        raw = await RawClient.connect(server.ports[0], "/ocpp/CS001", headers=basic("CS001"))
        await trio.testing.wait_all_tasks_blocked()
    # running_server cancelled the listener; the close frame was sent before TCP went down
    assert close_codes(await raw.read_until_eof()) == [1001]


async def test_peer_vanishing_mid_connection_is_1006():
    recorder = Recorder()
    async with running_server(recorder, WebSocketSettings(), AUTH) as server:
        raw = await RawClient.connect(server.ports[0], "/ocpp/CS001", headers=basic("CS001"))
        await raw.aclose()
        await recorder.ended.wait()
        assert recorder.closed[0].code == 1006


async def test_a_send_cancelled_midway_closes_the_connection(autojump_clock):
    """Part of a frame may be on the wire (and the compressor has moved on): no way to continue."""
    outcome: list[object] = []
    done = trio.Event()

    async def handler(conn: OcppWebSocket) -> None:
        with trio.move_on_after(5) as scope:
            await conn.send_text("x" * 50_000_000)  # the peer reads nothing: send_all blocks
        outcome.append(scope.cancelled_caught)
        outcome.append(conn.closed)
        try:
            await conn.send_text("after")
        except ConnectionClosed as exc:
            outcome.append(exc.code)
        done.set()

    async with running_server(handler, WebSocketSettings(ping_interval=None), AUTH) as server:
        raw = await RawClient.connect(server.ports[0], "/ocpp/CS001", headers=basic("CS001"))
        await done.wait()  # read nothing until the handler has given up
        await raw.read_until_eof()
        await raw.aclose()
    assert outcome == [True, True, 1006]


async def test_only_one_task_receives_at_a_time(autojump_clock):
    errors: list[BaseException] = []

    async def handler(conn: OcppWebSocket) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(conn.receive_text)
            await trio.testing.wait_all_tasks_blocked()
            try:
                await conn.receive_text()
            except trio.BusyResourceError as exc:
                errors.append(exc)
            nursery.cancel_scope.cancel()

    async with running_server(handler, WebSocketSettings(), AUTH) as server:
        raw = await RawClient.connect(server.ports[0], "/ocpp/CS001", headers=basic("CS001"))
        assert close_codes(await raw.read_until_eof()) == [1000]
        await raw.aclose()
    assert len(errors) == 1


async def test_one_keepalive_task_serves_every_connection(autojump_clock):
    """The listener pings all its connections from one task: the silent peer is dropped at
    interval + timeout, the one that answers is kept."""
    recorder = Recorder()
    settings = WebSocketSettings(ping_interval=20.0, ping_timeout=10.0)
    two = StaticAuthenticator.from_passwords({"CS001": PASSWORD, "CS002": PASSWORD})
    async with running_server(recorder, settings, two) as server:
        start = trio.current_time()
        silent = await RawClient.connect(server.ports[0], "/ocpp/CS001", headers=basic("CS001"))
        async with connect(
            f"ws://127.0.0.1:{server.ports[0]}/ocpp/CS002",
            subprotocols=["ocpp2.0.1"],
            additional_headers=basic("CS002"),
            ping_interval=None,
        ) as ws:
            frames = await silent.read_until_eof()
            assert trio.current_time() - start == pytest.approx(30.0)
            assert [f.opcode for f in frames] == [Opcode.PING]
            await trio.sleep(100)  # MockClock: five more ping rounds for the other one
            await ws.send("still here")
            assert await ws.recv() == "still here"
    assert [c.code for c in recorder.closed] == [1011, 1000]


async def test_a_pong_to_the_latest_ping_answers_the_earlier_ones(autojump_clock):
    """RFC 6455 §5.5.3: a peer may answer only the most recent of several pings."""
    recorder = Recorder()
    settings = WebSocketSettings(ping_interval=10.0, ping_timeout=15.0)  # two pings outstanding
    async with running_server(recorder, settings, AUTH) as server:
        start = trio.current_time()
        raw = await RawClient.connect(server.ports[0], "/ocpp/CS001", headers=basic("CS001"))
        pings: list[bytes] = []
        while len(pings) < 2:  # at 10 s and 20 s
            raw.proto.receive_data(await raw.stream.receive_some(65536))
            pings += [e.data for e in raw.proto.events_received() if e.opcode is Opcode.PING]
        raw.proto.send_pong(pings[1])
        await raw.send_queued()
        frames = await raw.read_until_eof()  # ping 3 at 30 s goes unanswered: dropped at 45 s
        assert trio.current_time() - start == pytest.approx(45.0)
        assert [(f.opcode, int.from_bytes(f.data, "big")) for f in frames] == [
            (Opcode.PING, 3),
            (Opcode.PING, 4),  # at 40 s: pings keep their pace while one is unanswered
        ]
        await recorder.ended.wait()
        assert recorder.closed[0].code == 1011
