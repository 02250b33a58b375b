"""The listener over real loopback sockets, security profile 1 (ws + Basic auth)."""

from __future__ import annotations

import socket
import struct

import pytest
import trio
import trio.testing
from trio_websocket import open_websocket_url
from websockets.client import ClientProtocol
from websockets.exceptions import ConnectionClosedError, InvalidStatus
from websockets.frames import Frame, Opcode
from websockets.trio.client import connect
from websockets.typing import Subprotocol
from websockets.uri import parse_uri

from csms.transport import (
    CompressionSettings,
    ConnectionClosed,
    OcppWebSocket,
    StaticAuthenticator,
    ThrottleSettings,
    WebSocketSettings,
)

from .helpers import PASSWORD, RawClient, Recorder, basic, running_server

AUTH = StaticAuthenticator.from_passwords({"CS001": PASSWORD, "RDAM 123": PASSWORD})


def url(server, path="/ocpp/CS001"):
    return f"ws://127.0.0.1:{server.ports[0]}{path}"


def client(server, path="/ocpp/CS001", *, user="CS001", protocols=("ocpp2.0.1",), **kwargs):
    kwargs.setdefault("ping_interval", None)
    return connect(
        url(server, path),
        subprotocols=list(protocols) or None,  # None: no Sec-WebSocket-Protocol header at all
        additional_headers=basic(user) if user else None,
        **kwargs,
    )


async def refused(server, path="/ocpp/CS001", **kwargs):
    with pytest.raises(InvalidStatus) as info:
        async with client(server, path, **kwargs):
            pass
    return info.value.response


# --- subprotocols (Part 4 §3.1.2, §3.2) ----------------------------------------------------------


@pytest.mark.parametrize(
    ("offered", "chosen"),
    [
        (["ocpp2.0.1"], "ocpp2.0.1"),
        (["ocpp2.1"], "ocpp2.1"),
        (["ocpp2.1", "ocpp2.0.1"], "ocpp2.1"),
        (["ocpp2.0.1", "ocpp2.1"], "ocpp2.0.1"),
        (["ocpp1.6", "ocpp2.0.1", "ocpp2.1"], "ocpp2.0.1"),
    ],
)
async def test_handshake_picks_the_clients_first_supported_subprotocol(offered, chosen):
    recorder = Recorder()
    async with running_server(recorder, WebSocketSettings(), AUTH) as server:
        async with client(server, protocols=offered) as ws:
            assert ws.subprotocol == chosen
            assert ws.response.headers["Sec-WebSocket-Protocol"] == chosen
            await ws.send('[2,"1","Heartbeat",{}]')
            assert await ws.recv() == '[2,"1","Heartbeat",{}]'
        assert recorder.connections[0].subprotocol == chosen
        assert recorder.connections[0].station_id == "CS001"


async def test_a_listener_can_offer_only_one_version():
    settings = WebSocketSettings(subprotocols=("ocpp2.0.1",))
    async with (
        running_server(Recorder(), settings, AUTH) as server,
        client(server, protocols=["ocpp2.1", "ocpp2.0.1"]) as ws,
    ):
        assert ws.subprotocol == "ocpp2.0.1"


@pytest.mark.parametrize("offered", [["ocpp1.6"], []])
async def test_no_acceptable_subprotocol_completes_the_handshake_then_closes(offered):
    """Part 4 §3.2: complete the handshake without Sec-WebSocket-Protocol, then close at once."""
    recorder = Recorder()
    async with running_server(recorder, WebSocketSettings(), AUTH) as server:
        async with client(server, protocols=offered) as ws:
            assert ws.response.status_code == 101
            assert "Sec-WebSocket-Protocol" not in ws.response.headers
            with pytest.raises(ConnectionClosedError) as info:
                await ws.recv()
            assert info.value.rcvd.code == 1002
        assert recorder.connections == []  # the handler never ran


# --- compression (Part 4 §3.3) -------------------------------------------------------------------


@pytest.mark.parametrize("context_takeover", [False, True])
async def test_permessage_deflate_is_negotiated_and_large_messages_pass(context_takeover):
    settings = WebSocketSettings(compression=CompressionSettings(context_takeover=context_takeover))
    recorder = Recorder()
    big = '{"data":"' + "0123456789abcdef" * 40_000 + '"}'  # 640 kB, very compressible
    async with running_server(recorder, settings, AUTH) as server:
        async with client(server, compression="deflate") as ws:
            assert "permessage-deflate" in ws.response.headers["Sec-WebSocket-Extensions"]
            for _ in range(3):  # with context takeover, later messages use the shared window
                await ws.send(big)
                assert await ws.recv() == big
        assert recorder.connections[0].compressed


async def test_clients_without_compression_are_served_uncompressed():
    recorder = Recorder()
    async with running_server(recorder, WebSocketSettings(), AUTH) as server:
        async with client(server, compression=None) as ws:
            assert "Sec-WebSocket-Extensions" not in ws.response.headers
            await ws.send("plain")
            assert await ws.recv() == "plain"
        assert not recorder.connections[0].compressed


async def test_trio_websocket_client_interoperates():
    async with running_server(Recorder(), WebSocketSettings(), AUTH) as server:
        headers = [(k.encode(), v.encode()) for k, v in basic("CS001").items()]
        async with open_websocket_url(
            url(server), subprotocols=["ocpp2.1"], extra_headers=headers
        ) as ws:
            assert ws.subprotocol == "ocpp2.1"
            await ws.send_message("hello")
            assert await ws.get_message() == "hello"


# --- the connection URL (Part 4 §3.1.1) ----------------------------------------------------------


async def test_station_id_is_percent_decoded():
    recorder = Recorder()
    async with running_server(recorder, WebSocketSettings(), AUTH) as server:
        async with client(server, "/ocpp/RDAM%20123", user="RDAM 123") as ws:
            await ws.send("x")
            await ws.recv()
        assert recorder.connections[0].station_id == "RDAM 123"


@pytest.mark.parametrize(
    "path", ["/ocpp/" + "A" * 49, "/ocpp/CS%3A001", "/ocpp/", "/elsewhere/CS001", "/ocpp/x/CS001"]
)
async def test_bad_station_path_gets_404(path):
    async with running_server(Recorder(), WebSocketSettings(), AUTH) as server:
        response = await refused(server, path)
        assert response.status_code == 404


async def test_path_prefix_is_configurable():
    settings = WebSocketSettings(path_prefix="/webServices/ocpp")
    async with running_server(Recorder(), settings, AUTH) as server:
        async with client(server, "/webServices/ocpp/CS001"):
            pass
        assert (await refused(server, "/ocpp/CS001")).status_code == 404


# --- security profile 1: Basic auth (A00.FR.2xx) -------------------------------------------------


async def test_profile1_good_credentials_connect():
    """A00.FR.207: identity and password match the Authorization header."""
    recorder = Recorder()
    async with running_server(recorder, WebSocketSettings(), AUTH) as server:
        async with client(server) as ws:
            await ws.send("hi")
            assert await ws.recv() == "hi"
        assert recorder.connections[0].client_cert_cn is None


async def test_profile1_wrong_password_gets_401_with_a_challenge_and_no_reason():
    async with running_server(Recorder(), WebSocketSettings(), AUTH) as server:
        with pytest.raises(InvalidStatus) as info:
            async with connect(
                url(server),
                subprotocols=["ocpp2.0.1"],
                additional_headers=basic("CS001", "Wrong-password-0000000"),
            ):
                pass
        response = info.value.response
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Basic")
        assert response.body == b"401 Unauthorized\n"


async def test_profile1_unknown_station_gets_404_and_no_reason():
    async with running_server(Recorder(), WebSocketSettings(), AUTH) as server:
        response = await refused(server, "/ocpp/CS404", user="CS404")
        assert response.status_code == 404
        assert response.body == b"404 Not Found\n"


async def test_profile1_username_must_be_the_station_id():
    """A00.FR.204: the username SHALL equal the identity in the connection URL."""
    async with running_server(Recorder(), WebSocketSettings(), AUTH) as server:
        assert (await refused(server, "/ocpp/CS001", user="RDAM 123")).status_code == 401


async def test_profile1_missing_credentials_get_a_challenge():
    async with running_server(Recorder(), WebSocketSettings(), AUTH) as server:
        response = await refused(server, user=None)
        assert response.status_code == 401
        assert "WWW-Authenticate" in response.headers


async def test_repeated_wrong_passwords_are_throttled_per_station(mock_clock):
    """After N failures the station is refused (429), even with the right password, until the
    lockout ends. The clock is trio's MockClock, moved by hand."""
    settings = WebSocketSettings(station_throttle=ThrottleSettings(3, 60.0, 30.0))
    async with running_server(Recorder(), settings, AUTH) as server:
        for _ in range(3):
            with pytest.raises(InvalidStatus) as info:
                async with connect(
                    url(server), additional_headers=basic("CS001", "Wrong-password-0000000")
                ):
                    pass
            assert info.value.response.status_code == 401
        response = await refused(server)  # the right password now
        assert response.status_code == 429
        assert int(response.headers["Retry-After"]) == 30
        mock_clock.jump(31)
        async with client(server) as ws:
            await ws.send("back")
            assert await ws.recv() == "back"


async def test_repeated_failures_are_throttled_per_address(mock_clock):
    settings = WebSocketSettings(address_throttle=ThrottleSettings(3, 60.0, 30.0))
    async with running_server(Recorder(), settings, AUTH) as server:
        for n in range(3):
            assert (await refused(server, f"/ocpp/X{n}", user=f"X{n}")).status_code == 404
        assert (await refused(server)).status_code == 429
        mock_clock.jump(30)
        async with client(server):
            pass


# --- limits ---------------------------------------------------------------------------------------


async def test_message_over_the_maximum_size_closes_with_1009():
    recorder = Recorder()
    settings = WebSocketSettings(max_message_size=1000)
    async with running_server(recorder, settings, AUTH) as server:
        async with client(server, compression=None) as ws:
            await ws.send("x" * 1000)
            assert await ws.recv() == "x" * 1000
            await ws.send("x" * 1001)
            with pytest.raises(ConnectionClosedError) as info:
                await ws.recv()
            assert info.value.rcvd.code == 1009
        await recorder.ended.wait()
        assert recorder.closed[0].code == 1009


async def test_the_size_limit_applies_after_decompression():
    """A small compressed frame that inflates beyond the limit (a zip bomb) is refused too."""
    recorder = Recorder()
    settings = WebSocketSettings(max_message_size=10_000)
    async with (
        running_server(recorder, settings, AUTH) as server,
        client(server, compression="deflate") as ws,
    ):
        await ws.send("a" * 100_000)  # about 100 bytes on the wire
        with pytest.raises(ConnectionClosedError) as info:
            await ws.recv()
        assert info.value.rcvd.code == 1009


async def test_connections_beyond_the_limit_get_503():
    gate = trio.Event()

    async def hold(conn: OcppWebSocket) -> None:
        await gate.wait()

    settings = WebSocketSettings(max_connections=2)
    async with running_server(hold, settings, AUTH) as server:
        async with client(server), client(server):
            assert server.connection_count == 2
            response = await refused(server)
            assert response.status_code == 503
            assert "Retry-After" in response.headers
            gate.set()
        await trio.testing.wait_all_tasks_blocked()
        assert (server.connection_count, server.handshaking) == (0, 0)
        async with client(server):
            assert (server.connection_count, server.handshaking) == (1, 0)


async def test_connections_beyond_the_accept_rate_get_503_with_retry_after(mock_clock):
    """The accept-rate guard: a burst of 2, then 1 a second. trio's MockClock stands still
    unless moved, so which connection is refused does not depend on the machine's speed."""
    settings = WebSocketSettings(max_accept_rate=1.0, accept_burst=2)
    async with running_server(Recorder(), settings, AUTH) as server:
        for _ in range(2):
            async with client(server):
                pass
        port = server.ports[0]
        first = await RawClient.connect(port, "/ocpp/CS001", headers=basic("CS001"))
        second = await RawClient.connect(port, "/ocpp/CS001", headers=basic("CS001"))
        for refused_client, retry_after in ((first, "1"), (second, "2")):
            assert refused_client.response.status_code == 503
            assert refused_client.response.headers["Retry-After"] == retry_after
            assert await refused_client.read_until_eof() == []  # closed by the server, no hang
            await refused_client.aclose()
        assert server.rate_refusals == 2
        assert (server.connection_count, server.handshaking) == (0, 0)
        mock_clock.jump(1.0)  # one token
        async with client(server) as ws:
            await ws.send("in")
            assert await ws.recv() == "in"
        assert (await refused(server)).status_code == 503


async def test_the_accept_rate_guard_is_off_by_default(mock_clock):
    async with running_server(Recorder(), WebSocketSettings(), AUTH) as server:
        for _ in range(20):
            async with client(server):
                pass
        assert server.rate_refusals == 0


@pytest.mark.parametrize(
    "kwargs", [{"max_accept_rate": -1.0}, {"max_accept_rate": float("inf")}, {"accept_burst": 0}]
)
def test_accept_rate_settings_are_validated(kwargs):
    with pytest.raises(ValueError, match="must be"):
        WebSocketSettings(**kwargs)


async def test_handshake_timeout_drops_a_silent_client(autojump_clock):
    settings = WebSocketSettings(handshake_timeout=10.0)
    async with running_server(Recorder(), settings, AUTH) as server:
        stream = await trio.open_tcp_stream("127.0.0.1", server.ports[0])
        start = trio.current_time()
        assert await stream.receive_some(100) == b""  # the server closed it
        assert trio.current_time() - start == pytest.approx(10.0)
        await trio.testing.wait_all_tasks_blocked()
        assert (server.connection_count, server.handshaking) == (0, 0)


async def test_garbage_instead_of_a_request_is_dropped():
    async with running_server(Recorder(), WebSocketSettings(), AUTH) as server:
        stream = await trio.open_tcp_stream("127.0.0.1", server.ports[0])
        await stream.send_all(b"\x16\x03\x01 this is not HTTP\r\n\r\n")
        data = b""
        while chunk := await stream.receive_some(1000):
            data += chunk
        assert b"101" not in data


# --- the connection -------------------------------------------------------------------------------


async def test_other_tasks_can_send_while_the_handler_receives():
    pushed = trio.Event()

    async def handler(conn: OcppWebSocket) -> None:
        async with trio.open_nursery() as nursery:

            async def push() -> None:
                await conn.send_text("from another task")
                pushed.set()

            nursery.start_soon(push)
            await conn.send_text("echo:" + await conn.receive_text())

    async with running_server(handler, WebSocketSettings(), AUTH) as server:
        async with client(server) as ws:
            assert await ws.recv() == "from another task"
            await ws.send("ping")
            assert await ws.recv() == "echo:ping"
        assert pushed.is_set()


async def test_fragmented_messages_are_reassembled():
    async with (
        running_server(Recorder(), WebSocketSettings(), AUTH) as server,
        client(server) as ws,
    ):
        await ws.send(["[2,", '"1",', '"Heartbeat",{}]'])
        assert await ws.recv() == '[2,"1","Heartbeat",{}]'


async def test_binary_messages_close_with_1003():
    recorder = Recorder()
    async with running_server(recorder, WebSocketSettings(), AUTH) as server:
        async with client(server) as ws:
            await ws.send(b"\x00\x01")
            with pytest.raises(ConnectionClosedError) as info:
                await ws.recv()
            assert info.value.rcvd.code == 1003
        await recorder.ended.wait()
        assert recorder.closed[0].code == 1003


async def test_client_close_reaches_the_handler_with_code_and_reason():
    recorder = Recorder()
    async with running_server(recorder, WebSocketSettings(), AUTH) as server:
        async with client(server) as ws:
            await ws.aclose(1001, "going away")
        await recorder.ended.wait()
        assert (recorder.closed[0].code, recorder.closed[0].reason) == (1001, "going away")


async def test_server_close_from_another_task_completes_the_handshake():
    recorder = Recorder()
    async with running_server(recorder, WebSocketSettings(), AUTH) as server:
        async with client(server) as ws:
            await ws.send("x")
            await ws.recv()
            await recorder.connections[0].close(4000, "replaced by a new connection")
            with pytest.raises(ConnectionClosedError) as info:
                await ws.recv()
            assert info.value.rcvd.code == 4000
        await recorder.ended.wait()
        assert recorder.closed[0].code == 4000
        with pytest.raises(ConnectionClosed):
            await recorder.connections[0].send_text("too late")


async def test_a_failing_handler_closes_1011_and_the_server_lives_on():
    async def broken(conn: OcppWebSocket) -> None:
        await conn.receive_text()
        raise RuntimeError("bug")

    async with running_server(broken, WebSocketSettings(), AUTH) as server:
        for _ in range(2):
            async with client(server) as ws:
                await ws.send("boom")
                with pytest.raises(ConnectionClosedError) as info:
                    await ws.recv()
                assert info.value.rcvd.code == 1011


class FailingAuthenticator:
    def __init__(self) -> None:
        self.calls = 0

    async def check(self, station_id: str, password: str | None) -> object:
        self.calls += 1
        if self.calls == 1:
            raise OSError("database unavailable")
        return await AUTH.check(station_id, password)


async def test_an_authenticator_failure_is_503_and_the_listener_lives_on():
    auth = FailingAuthenticator()
    async with running_server(Recorder(), WebSocketSettings(), auth) as server:  # type: ignore[arg-type]
        response = await refused(server)
        assert response.status_code == 503
        assert b"database" not in response.body
        async with client(server) as ws:
            await ws.send("ok")
            assert await ws.recv() == "ok"


async def test_a_frame_sent_with_the_upgrade_request_is_delivered():
    """A client that does not wait for the 101 before its first frame loses nothing (the
    server keeps the handshake parser, which then goes on parsing frames)."""
    recorder = Recorder()
    async with running_server(recorder, WebSocketSettings(), AUTH) as server:
        stream = await trio.open_tcp_stream("127.0.0.1", server.ports[0])
        proto = ClientProtocol(
            parse_uri(f"ws://127.0.0.1:{server.ports[0]}/ocpp/CS001"),
            subprotocols=[Subprotocol("ocpp2.0.1")],
        )
        request = proto.connect()
        for name, value in basic("CS001").items():
            request.headers[name] = value
        proto.send_request(request)
        early = Frame(Opcode.TEXT, b"early").serialize(mask=True, extensions=[])
        await stream.send_all(b"".join(proto.data_to_send()) + early)  # one segment
        echoed: list[str] = []
        while not echoed:
            proto.receive_data(await stream.receive_some(65536))
            echoed += [e.data.decode() for e in proto.events_received() if isinstance(e, Frame)]
        assert echoed == ["early"]
        await stream.aclose()
    assert recorder.received == ["early"]


def _bulky(size: int) -> str:
    """Text that neither side compresses much and a reader can check end to end."""
    return "".join(f"{i:08x}" for i in range(size // 8))


async def test_a_message_larger_than_the_socket_buffers_reaches_a_slow_reader_whole():
    """The plain-TCP write waits for room in the socket buffer and goes on where it stopped."""
    big = _bulky(8_000_000)  # far beyond the loopback socket buffers
    sent = trio.Event()

    async def handler(conn: OcppWebSocket) -> None:
        await conn.send_text(big)
        sent.set()
        with pytest.raises(ConnectionClosed):
            await conn.receive_text()

    async with running_server(handler, WebSocketSettings(), AUTH) as server:
        raw = await RawClient.connect(server.ports[0], "/ocpp/CS001", headers=basic("CS001"))
        await trio.testing.wait_all_tasks_blocked()  # the writer waits for the reader
        assert not sent.is_set()
        frames = await _text_frames(raw, want=1)
        assert frames[0].data.decode() == big
        await sent.wait()
        await raw.aclose()


async def test_a_peer_that_resets_during_a_write_ends_it_as_a_closed_connection():
    """A reset while the write waits for room: the sender gets ConnectionClosed (1006)."""
    closed: list[ConnectionClosed] = []
    ended = trio.Event()

    async def handler(conn: OcppWebSocket) -> None:
        try:
            await conn.send_text(_bulky(8_000_000))
        except ConnectionClosed as exc:
            closed.append(exc)
        finally:
            ended.set()

    async with running_server(handler, WebSocketSettings(), AUTH) as server:
        raw = await RawClient.connect(server.ports[0], "/ocpp/CS001", headers=basic("CS001"))
        await trio.testing.wait_all_tasks_blocked()  # the writer waits for the reader
        sock = raw.stream.socket  # type: ignore[attr-defined]
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        await raw.aclose()  # SO_LINGER 0: the close sends RST
        await ended.wait()
        assert [exc.code for exc in closed] == [1006]


async def _text_frames(raw: RawClient, *, want: int) -> list[Frame]:
    frames: list[Frame] = []
    while len(frames) < want:
        data = await raw.stream.receive_some(1 << 20)
        assert data, "the server closed before sending everything"
        raw.proto.receive_data(data)
        frames += [
            e for e in raw.proto.events_received() if getattr(e, "opcode", None) is Opcode.TEXT
        ]
    return frames
