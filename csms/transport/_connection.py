"""One open OCPP WebSocket connection: trio streams driving websockets' sans-IO protocol.

Design. There is no reader task: the task that calls :meth:`OcppWebSocket.receive_text` reads the
socket, feeds the sans-IO protocol and takes the messages it yields (several may arrive in one
read; they queue in order). That keeps the hot path at one task and no channel hop per message.
Any task may call :meth:`~OcppWebSocket.send_text` at the same time; writes are serialised by a
lock, and a frame is built (compressed) and written while holding it, so frames reach the wire in
the order the compressor produced them, which permessage-deflate with context takeover needs.
Control frames the reader has to send (pongs, the close echo) take the same lock.

Consequence: pings are answered and pongs noticed only while some task is in ``receive_text``.
The OCPP handler always is (it must be, to see CALLRESULTs), so this costs nothing; a handler that
stops reading for longer than the ping timeout is declared dead, as it should be. When to ping,
and when to give up, is the listener's :class:`~csms.transport._keepalive.Keepalive`.

An idle connection is what a node holds by the ten thousand, so it is kept small: no task of its
own, a list (not a deque) for the rarely non-empty message queue, and a lock without a parking lot
until a second writer actually has to wait.

A send cancelled after its frame was built closes the connection: part of a frame may be on the
wire, and the peer's decompressor would be out of step with ours.
"""

from __future__ import annotations

import logging
import os
from typing import cast

import trio
from websockets.frames import CloseCode, Frame, Opcode
from websockets.protocol import OPEN, State
from websockets.server import ServerProtocol

from ._settings import WebSocketSettings

_log = logging.getLogger("csms.transport")


class ConnectionClosed(ConnectionError):
    """The WebSocket connection is closed, cleanly or not.

    ``code`` is the close code (1006 when no close frame was exchanged) and ``reason`` the close
    reason, from whichever side started the closing handshake.
    """

    def __init__(self, code: int, reason: str = "") -> None:
        super().__init__(f"WebSocket closed with code {code}" + (f" ({reason})" if reason else ""))
        self.code = code
        self.reason = reason


class _WriteLock:
    """A FIFO lock for the writers of one connection (a ``trio.Lock`` is twice the size and this
    one is held by ten thousand idle connections). Ownership passes straight to the next waiter."""

    __slots__ = ("_held", "_waiters")

    def __init__(self) -> None:
        self._held = False
        self._waiters: trio.lowlevel.ParkingLot | None = None

    def try_acquire(self) -> bool:
        if self._held:
            return False
        self._held = True
        return True

    def release(self) -> None:
        if self._waiters is not None and self._waiters.unpark():
            return  # the woken waiter owns it now
        self._held = False

    async def __aenter__(self) -> None:
        await trio.lowlevel.checkpoint_if_cancelled()
        if self.try_acquire():
            # Measured twice: without this schedule point before the write (an uncontended
            # lock skipping it, or a direct os.write), the Heartbeat benchmark drops from 21k
            # to 13-14k messages/s.
            await trio.lowlevel.cancel_shielded_checkpoint()
            return
        if self._waiters is None:
            self._waiters = trio.lowlevel.ParkingLot()
        await self._waiters.park()  # woken as the owner: the releaser handed the lock over

    async def __aexit__(self, *exc: object) -> None:
        self.release()


class OcppWebSocket:
    """An accepted OCPP WebSocket: who is at the other end, and text messages in and out.

    At most one task receives at a time; any number may send. The server closes the connection
    when its handler returns.
    """

    __slots__ = (
        "_draining",
        "_fd",
        "_fragments",
        "_messages",
        "_ping_count",
        "_pong_count",
        "_progress",
        "_proto",
        "_receiving",
        "_send_lock",
        "_settings",
        "_stream",
        "_stream_closed",
        "_transport",
        "client_cert_cn",
        "remote",
        "station_id",
        "subprotocol",
    )

    def __init__(
        self,
        stream: trio.abc.Stream,
        transport: trio.abc.Stream,
        protocol: ServerProtocol,
        settings: WebSocketSettings,
        *,
        station_id: str,
        subprotocol: str,
        remote: tuple[str, int],
        client_cert_cn: str | None = None,
    ) -> None:
        #: The station id from the connection URL (authenticated).
        self.station_id = station_id
        #: The negotiated subprotocol, ``"ocpp2.0.1"`` or ``"ocpp2.1"``.
        self.subprotocol = subprotocol
        #: The peer's (host, port).
        self.remote = remote
        #: Subject CN of the verified client certificate (security profile 3), else None.
        self.client_cert_cn = client_cert_cn
        self._stream = stream
        self._transport = transport  # the TCP stream under TLS, closed to abort at once
        # Plain TCP is read straight from the descriptor (see _receive_more). Only _abort
        # closes the stream, after setting _stream_closed, so a closed (maybe reused) descriptor
        # number is never read.
        plain = os.name == "posix" and isinstance(stream, trio.SocketStream)
        self._fd = cast(trio.SocketStream, stream).socket.fileno() if plain else -1
        self._proto = protocol
        self._settings = settings
        self._send_lock = _WriteLock()
        self._messages: list[str] = []
        self._fragments: list[bytes] | None = None
        self._receiving = False
        self._draining = False
        self._stream_closed = False
        self._progress: trio.Event | None = None  # created by a task waiting on the reader
        self._ping_count = 0  # pings sent; each carries its number
        self._pong_count = 0  # the highest number a pong has answered

    @property
    def compressed(self) -> bool:
        """Whether permessage-deflate was negotiated."""
        return any(ext.name == "permessage-deflate" for ext in self._proto.extensions)

    @property
    def closed(self) -> bool:
        """Whether the connection is closing or closed (nothing more can be sent)."""
        return self._proto.state is not OPEN or self._proto.eof_sent or self._stream_closed

    def __repr__(self) -> str:
        return (
            f"<OcppWebSocket station_id={self.station_id!r} subprotocol={self.subprotocol!r} "
            f"state={self._proto.state.name}>"
        )

    # receiving

    async def receive_text(self) -> str:
        """The next text message. Raises :class:`ConnectionClosed` once the connection is closed.

        Messages that arrived before the peer's close frame are still delivered first.
        """
        while self._draining:  # close() is reading out the closing handshake
            await self._wait_progress()
        if self._receiving:
            raise trio.BusyResourceError("another task is already receiving on this connection")
        self._receiving = True
        try:
            if self._messages:
                await trio.lowlevel.checkpoint()
                return self._messages.pop(0)
            while not self._input_ended():
                await self._receive_more()
                if self._messages:
                    return self._messages.pop(0)
            raise self._closed_error()
        finally:
            self._receiving = False
            self._pulse()

    def _input_ended(self) -> bool:
        """No more messages can arrive (a close frame came or went out, or the stream ended)."""
        proto = self._proto
        return (
            proto.close_rcvd is not None
            or proto.eof_sent
            or proto.state is State.CLOSED
            or self._stream_closed
        )

    def _pulse(self) -> None:
        if self._progress is not None:
            self._progress.set()
            self._progress = None

    async def _wait_progress(self) -> None:
        if self._progress is None:
            self._progress = trio.Event()
        await self._progress.wait()

    async def _receive_more(self) -> None:
        size = self._settings.receive_buffer_size
        fd = self._fd
        try:
            if fd < 0:
                data = await self._stream.receive_some(size)
            else:
                # What trio's SocketStream.receive_some does (a checkpoint when data is ready,
                # else wait until readable), without its three coroutine levels: they would stay
                # in every idle connection's await chain, and cost time on every message.
                await trio.lowlevel.checkpoint_if_cancelled()
                ready: bytes | None
                try:
                    ready = os.read(fd, size)
                except BlockingIOError:
                    ready = None  # wait outside the handler: it would keep the exception alive
                if ready is not None:
                    await trio.lowlevel.cancel_shielded_checkpoint()
                while ready is None:
                    await trio.lowlevel.wait_readable(fd)
                    try:
                        ready = os.read(fd, size)
                    except BlockingIOError:
                        continue  # woken without data (another reader's wake-up, say)
                data = ready
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            data = b""
        proto = self._proto
        if data:
            proto.receive_data(data)
            events = proto.events_received()
            if events:
                self._handle_events(cast(list[Frame], events))  # after the handshake: frames
        else:
            proto.receive_eof()
        chunks = proto.data_to_send()
        if chunks:
            async with self._send_lock:
                await self._write(chunks)
        self._pulse()

    def receive_early(self, frames: list[Frame]) -> None:
        """Frames parsed with the upgrade request, before this object existed: queue them."""
        self._handle_events(frames)

    def _handle_events(self, events: list[Frame]) -> None:
        for frame in events:
            opcode = frame.opcode
            if opcode is Opcode.TEXT:
                if not frame.fin:
                    self._fragments = [bytes(frame.data)]
                elif not self._deliver(frame.data):
                    return
            elif opcode is Opcode.CONT:
                if self._fragments is not None:
                    self._fragments.append(bytes(frame.data))
                    if frame.fin:
                        data, self._fragments = b"".join(self._fragments), None
                        if not self._deliver(data):
                            return
            elif opcode is Opcode.BINARY:
                # OCPP-J is JSON text only (Part 4 §4.1.2); the rest of the batch is dropped.
                self._proto.fail(CloseCode.UNSUPPORTED_DATA, "binary messages are not supported")
                return
            elif opcode is Opcode.PONG and len(frame.data) == 4:
                number = int.from_bytes(frame.data, "big")
                if self._pong_count < number <= self._ping_count:
                    self._pong_count = number

    def _deliver(self, data: bytes | bytearray | memoryview) -> bool:
        try:
            self._messages.append(str(data, "utf-8"))
        except UnicodeDecodeError:
            self._proto.fail(CloseCode.INVALID_DATA, "invalid UTF-8")
            return False
        return True

    # sending

    async def send_text(self, message: str) -> None:
        """Send one text message. Raises :class:`ConnectionClosed` if the connection is closed."""
        async with self._send_lock:
            if self.closed:
                raise self._closed_error()
            self._proto.send_text(message.encode())
            if not await self._write(self._proto.data_to_send()):
                raise self._closed_error()

    async def _write(self, chunks: list[bytes]) -> bool:
        """Write the protocol's output; the send lock is held. False if the stream is gone."""
        data = b"".join(chunks)
        if data and not self._stream_closed:
            try:
                if self._fd < 0:
                    await self._stream.send_all(data)
                else:
                    await self._send_plain(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                await self._abort()
                return False
            except trio.Cancelled:
                await self._abort()
                raise
        if any(not chunk for chunk in chunks):  # websockets' SEND_EOF is b""
            await self._send_eof()
        return not self._stream_closed

    async def _send_plain(self, data: bytes) -> None:
        """Write to a plain TCP descriptor: what trio's ``SocketStream.send_all`` does, without
        its schedule point after the write. The writer already passed one taking the send lock
        (``_WriteLock``), so trio's would be a second one per message."""
        fd = self._fd
        view = memoryview(data)
        while view:
            try:
                sent = os.write(fd, view)
            except BlockingIOError:  # the socket's buffer is full: wait outside the handler
                sent = 0
            if sent:
                view = view[sent:]
            else:
                await trio.lowlevel.wait_writable(fd)

    async def _send_eof(self) -> None:
        """End our side: FIN on plain TCP (the peer then closes); TLS has no half-close."""
        if self._stream_closed:
            return
        if isinstance(self._stream, trio.abc.HalfCloseableStream):
            try:
                await self._stream.send_eof()
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                await self._abort()
            return
        self._stream_closed = True
        with trio.move_on_after(self._settings.close_timeout):
            await self._stream.aclose()  # TLS close_notify; closes the resource even if cancelled
        await trio.aclose_forcefully(self._transport)
        self._pulse()

    # closing

    async def close(self, code: int = CloseCode.NORMAL_CLOSURE, reason: str = "") -> None:
        """Close: send a close frame, wait (up to ``close_timeout``) for the peer's, drop TCP.

        Idempotent. If no task is receiving, this call reads the socket itself until the peer
        has closed; messages received meanwhile are dropped.
        """
        async with self._send_lock:
            if not self.closed:
                self._proto.send_close(code, reason)
                await self._write(self._proto.data_to_send())
        with trio.move_on_after(self._settings.close_timeout):
            while self._proto.state is not State.CLOSED and not self._stream_closed:
                if self._receiving:
                    await self._wait_progress()
                    continue
                self._receiving = self._draining = True
                try:
                    await self._receive_more()
                finally:
                    self._receiving = self._draining = False
                    self._pulse()
        await self._abort()

    def _closed_error(self) -> ConnectionClosed:
        proto = self._proto
        received, sent = proto.close_rcvd, proto.close_sent
        if sent is not None and (received is None or proto.close_rcvd_then_sent is False):
            return ConnectionClosed(sent.code, sent.reason)
        if received is not None:
            return ConnectionClosed(received.code, received.reason)
        return ConnectionClosed(CloseCode.ABNORMAL_CLOSURE, "connection lost")

    async def _abort(self) -> None:
        """Drop TCP now; tasks blocked on the socket wake up and see the connection closed."""
        if not self._stream_closed:
            self._stream_closed = True
            await trio.aclose_forcefully(self._transport)
        self._pulse()

    # keepalive (driven by the listener's scheduler)

    def next_ping_number(self) -> int:
        self._ping_count += 1
        return self._ping_count

    def answered_ping(self, number: int) -> bool:
        return self._pong_count >= number

    async def send_ping(self, number: int) -> None:
        async with self._send_lock:
            if not self.closed:
                self._proto.send_ping(number.to_bytes(4, "big"))
                await self._write(self._proto.data_to_send())

    def fail_unresponsive(self) -> None:
        """Mark the connection failed (1011 for our side's record) without sending anything:
        the peer is not listening. :meth:`abort` then drops TCP."""
        _log.warning(
            "keepalive ping timeout, dropping connection",
            extra={"station_id": self.station_id, "remote": _format(self.remote)},
        )
        self._proto.fail(CloseCode.INTERNAL_ERROR, "keepalive ping timeout")
        self._proto.data_to_send()

    async def abort(self) -> None:
        """Drop TCP at once, without a closing handshake."""
        await self._abort()


def _format(remote: tuple[str, int]) -> str:
    return f"{remote[0]}:{remote[1]}"
