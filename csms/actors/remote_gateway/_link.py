"""The node's NATS connection for commands between nodes, on the trio thread itself.

The remote gateway sends requests through it; the command server subscribes the command
subjects of the stations this node holds. It speaks the NATS client protocol (``PUB``, ``SUB``,
``UNSUB``, ``MSG``/``HMSG``, ``PING``/``PONG``) over a trio socket: a remote command costs each
node no thread crossing (nats-py on an asyncio thread cost two per command on each node, each a
wake-up of the other thread and a hand-over of the interpreter lock), no asyncio task or future,
and one write for everything queued since the last one. Requests share one wildcard inbox; a
request waits in one map of requests in flight, its trio task rescheduled with the answer.
A lost connection is made again (every subscription sent again) until the link stops.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import secrets
import ssl
import urllib.parse
from collections.abc import Callable, Coroutine
from typing import Any

import outcome
import trio

__all__ = ["CommandLink", "Incoming", "NoResponders"]

log = logging.getLogger("csms.nats")

#: The queue group of every node's command subscriptions.
COMMAND_QUEUE = "csms-cmd"
#: Seconds to open a connection (TCP, TLS, the server's INFO and our CONNECT's PONG).
CONNECT_TIMEOUT = 2.0
#: Between two attempts to connect again after the connection was lost.
RECONNECT_WAIT = 0.5
_MAX_LINE = 64 * 1024


class NoResponders(ConnectionError):
    """Nobody subscribes the subject: no node holds the station."""


#: (subject, data, reply subject) of a message received, as trio gets it.
Incoming = tuple[str, bytes, str]


class CommandLink:
    def __init__(self, url: str, *, name: str) -> None:
        self.url = url
        self.name = name
        self._servers = [urllib.parse.urlsplit(u.strip()) for u in url.split(",") if u.strip()]
        self._nursery: trio.Nursery | None = None
        self._stream: trio.abc.Stream | None = None
        self._on_message: Callable[[Incoming], None] = lambda item: None
        #: subject -> subscription id, and back.
        self._subs: dict[str, int] = {}
        self._subjects: dict[int, str] = {}
        self._sids = itertools.count(2)  # 1: the inbox of this link's requests
        self._inbox = f"_INBOX.{secrets.token_hex(11)}"
        self._inbox_bytes = self._inbox.encode()
        self._inbox_prefix = len(self._inbox) + 1
        #: Requests in flight: their token (the inbox's last token) -> the waiting trio task.
        self._waiting: dict[bytes, trio.lowlevel.Task] = {}
        self._ids = itertools.count()
        self._out = bytearray()
        self._written = trio.Event()  # set when ``_out`` has something to write
        self._pongs: list[trio.Event] = []
        self._scope: trio.CancelScope | None = None

    @property
    def connected(self) -> bool:
        return self._stream is not None

    async def start(self, nursery: trio.Nursery) -> None:
        """The link's connection tasks run in ``nursery`` (the command server's)."""
        self._nursery = nursery

    async def stop(self) -> None:
        """Write what is queued (the last replies), close, and fail the requests in flight."""
        if self._scope is not None:
            self._scope.cancel()
        self._scope = None  # a later start (the command server restarted) connects anew
        stream, self._stream = self._stream, None
        if stream is not None:
            with trio.move_on_after(2), contextlib.suppress(trio.BrokenResourceError, OSError):
                if self._out:
                    await stream.send_all(bytes(self._out))
                await stream.aclose()
        self._out.clear()
        waiting, self._waiting = self._waiting, {}
        for task in waiting.values():  # an answer that can no longer come
            trio.lowlevel.reschedule(task, outcome.Error(ConnectionError("NATS link stopped")))

    # -- what the gateway and the command server use -----------------------------------------

    async def connect(self, on_message: Callable[[Incoming], None]) -> None:
        """Connect (raises when NATS is not there: the caller retries); from then on the link
        connects again by itself. ``on_message`` is called for each message of a
        subscription."""
        if self._stream is not None or self._scope is not None:
            return
        if self._nursery is None:
            raise RuntimeError("the link is not started")
        self._on_message = on_message
        stream = await self._open()
        self._connected(stream)
        self._scope = trio.CancelScope()
        self._nursery.start_soon(self._run, stream, self._scope)

    async def request(self, subject: str, data: bytes, timeout: float) -> bytes:
        """The reply's data; ``TimeoutError`` when none came in ``timeout``; ``NoResponders``
        when nobody subscribes ``subject``."""
        if self._stream is None:
            raise ConnectionError("not connected to NATS")
        token = b"%d" % next(self._ids)
        self._waiting[token] = trio.lowlevel.current_task()
        reply = b"%s.%s" % (self._inbox_bytes, token)
        self._write(b"PUB %s %s %d\r\n%s\r\n" % (subject.encode(), reply, len(data), data))

        def abort(_: Any) -> trio.lowlevel.Abort:
            self._waiting.pop(token, None)  # its answer, if one comes, is dropped
            return trio.lowlevel.Abort.SUCCEEDED

        with trio.move_on_after(timeout):
            answer: bytes = await trio.lowlevel.wait_task_rescheduled(abort)
            return answer
        raise TimeoutError(f"no reply on {subject} within {timeout:.1f} s")

    def reply_nowait(self, subject: str, data: bytes) -> None:
        """Publish (a reply: nobody here needs to know it went; without a connection it is
        dropped and its asker times out)."""
        if self._stream is not None:
            self._write(b"PUB %s %d\r\n%s\r\n" % (subject.encode(), len(data), data))

    async def subscribe(self, subjects: list[str]) -> None:
        if self._scope is None:
            raise ConnectionError("not connected to NATS")
        for subject in subjects:
            if subject not in self._subs:
                sid = next(self._sids)
                self._subs[subject], self._subjects[sid] = sid, subject
                if self._stream is not None:  # else sent when connected again
                    self._write(self._sub_command(subject, sid))
        if self._stream is not None:
            with trio.move_on_after(CONNECT_TIMEOUT):
                await self._flush()  # the server has them before the caller goes on

    async def unsubscribe(self, subjects: list[str]) -> None:
        for subject in subjects:
            sid = self._subs.pop(subject, None)
            if sid is not None:
                del self._subjects[sid]
                if self._stream is not None:
                    self._write(b"UNSUB %d\r\n" % sid)
        if self._stream is not None:
            with trio.move_on_after(CONNECT_TIMEOUT):
                await self._flush()  # no command for them reaches this node any more

    def subscribed(self) -> set[str]:
        return set(self._subs)

    # -- the connection -----------------------------------------------------------------------

    def _sub_command(self, subject: str, sid: int) -> bytes:
        # a command subject in a queue group: while a station moves between nodes and both
        # subscribe, one of them gets each command, never both
        queue = f" {COMMAND_QUEUE}" if subject.endswith(".cmd") else ""
        return f"SUB {subject}{queue} {sid}\r\n".encode()

    def _write(self, data: bytes) -> None:
        self._out += data
        self._written.set()

    async def _flush(self) -> None:
        """Until the server answered a PING sent after everything queued so far."""
        pong = trio.Event()
        self._pongs.append(pong)
        self._write(b"PING\r\n")
        await pong.wait()

    async def _open(self) -> trio.abc.Stream:
        error: Exception = ConnectionError(f"no NATS server in {self.url!r}")
        for server in self._servers:
            try:
                with trio.fail_after(CONNECT_TIMEOUT):
                    return await self._handshake(server)
            except (OSError, trio.TooSlowError, ValueError, trio.BrokenResourceError) as exc:
                error = exc
        raise ConnectionError(f"NATS not reachable at {self.url}: {error!r}")

    async def _handshake(self, server: urllib.parse.SplitResult) -> trio.abc.Stream:
        host, port = server.hostname or "127.0.0.1", server.port or 4222
        stream: trio.abc.Stream = await trio.open_tcp_stream(host, port)
        try:
            buffer = bytearray()
            info = json.loads((await _read_line(stream, buffer)).partition(b" ")[2])
            if server.scheme == "tls" or info.get("tls_required"):
                stream = trio.SSLStream(stream, ssl.create_default_context(), server_hostname=host)
                await stream.do_handshake()
            options: dict[str, Any] = {
                "verbose": False,
                "pedantic": False,
                "headers": True,
                "no_responders": True,
                "protocol": 1,
                "name": self.name,
                "lang": "python3-trio",
                "version": "1",
            }
            if server.username and server.password is not None:
                options |= {"user": server.username, "pass": server.password}
            elif server.username:
                options["auth_token"] = server.username
            await stream.send_all(b"CONNECT %s\r\nPING\r\n" % json.dumps(options).encode())
            await _accepted(stream, buffer)
        except BaseException:
            with contextlib.suppress(Exception):
                await trio.aclose_forcefully(stream)
            raise
        return stream

    async def _run(self, stream: trio.abc.Stream, scope: trio.CancelScope) -> None:
        with scope:
            while True:
                async with trio.open_nursery() as nursery:  # until the connection is lost
                    nursery.start_soon(_until_broken, self._writer(stream), nursery.cancel_scope)
                    nursery.start_soon(_until_broken, self._reader(stream), nursery.cancel_scope)
                self._stream = None
                self._out.clear()  # replies and requests not written: their askers time out
                for pong in self._pongs:
                    pong.set()
                self._pongs.clear()
                with contextlib.suppress(Exception):
                    await trio.aclose_forcefully(stream)
                while True:
                    await trio.sleep(RECONNECT_WAIT)
                    try:
                        stream = await self._open()
                        log.info("nats_commands: connected again", extra={"url": self.url})
                        self._connected(stream)
                        break
                    except ConnectionError:
                        pass

    def _connected(self, stream: trio.abc.Stream) -> None:
        """Use ``stream`` from now on: this link's inbox and every subscription are the first
        thing written on it."""
        self._stream = stream
        self._out = bytearray(f"SUB {self._inbox}.* 1\r\n".encode())
        for subject, sid in self._subs.items():
            self._out += self._sub_command(subject, sid)
        self._written.set()

    async def _writer(self, stream: trio.abc.Stream) -> None:
        while True:
            await self._written.wait()
            self._written = trio.Event()
            if self._out:
                data, self._out = self._out, bytearray()
                await stream.send_all(data)

    async def _reader(self, stream: trio.abc.Stream) -> None:
        """Until the server closes the connection; each message handed on as it is parsed."""
        buffer = bytearray()
        while data := await stream.receive_some(65536):
            buffer += data
            position = self._parse(buffer)
            del buffer[:position]
            if len(buffer) > 64 * 1024 * 1024:
                raise ValueError("a NATS message larger than any server sends")

    def _parse(self, buffer: bytearray) -> int:
        """Handle every whole protocol message in ``buffer``; how many bytes they took."""
        position = 0
        find = buffer.find
        while (end := find(b"\r\n", position)) >= 0:
            line = bytes(buffer[position:end])
            if line.startswith(b"MSG ") or line.startswith(b"HMSG "):
                parts = line.split(b" ")
                headers = line[0] == ord("H")
                size = int(parts[-1])
                stop = end + 2 + size
                if len(buffer) < stop + 2:
                    break  # the rest of its payload has not come yet
                body = bytes(buffer[end + 2 : stop])
                head_size = int(parts[-2]) if headers else 0
                has_reply = len(parts) == (6 if headers else 5)
                self._message(
                    parts[1], int(parts[2]), parts[3] if has_reply else b"", body, head_size
                )
                position = stop + 2
                continue
            if line == b"PING":
                self._write(b"PONG\r\n")
            elif line == b"PONG":
                if self._pongs:
                    self._pongs.pop(0).set()
            elif line.startswith(b"-ERR"):
                log.warning("nats_commands: server error", extra={"error": line.decode()})
            position = end + 2
        return position

    def _message(self, subject: bytes, sid: int, reply: bytes, body: bytes, head: int) -> None:
        if sid == 1:  # the answer to a request
            task = self._waiting.pop(subject[self._inbox_prefix :], None)
            if task is None:
                return  # its asker gave up
            if head and body[:head].split(b"\r\n", 1)[0].split(b" ")[1:2] == [b"503"]:
                answer: outcome.Outcome[bytes] = outcome.Error(NoResponders(subject.decode()))
            else:
                answer = outcome.Value(body[head:])
            trio.lowlevel.reschedule(task, answer)
        elif sid in self._subjects:  # else unsubscribed meanwhile
            self._on_message((subject.decode(), body[head:], reply.decode()))


async def _until_broken(work: Coroutine[Any, Any, None], scope: trio.CancelScope) -> None:
    """Run one side of a connection; when it ends (the server closed it, or it broke), the
    other side is cancelled too."""
    try:
        await work
    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError, ValueError) as exc:
        log.warning("nats_commands: connection lost", extra={"error": repr(exc)})
    else:
        log.warning("nats_commands: connection closed by the server")
    scope.cancel()


async def _accepted(stream: trio.abc.Stream, buffer: bytearray) -> None:
    """Until the PONG after our CONNECT (nothing is subscribed yet: nothing but INFO, +OK or
    -ERR comes before it); ``ConnectionError`` for an -ERR (credentials refused)."""
    while (line := await _read_line(stream, buffer)) != b"PONG":
        if line.startswith(b"-ERR"):
            raise ConnectionError(line.decode(errors="replace"))


async def _read_line(stream: trio.abc.Stream, buffer: bytearray) -> bytes:
    """One protocol line of a connection being opened (``buffer``: what came after it)."""
    while (end := buffer.find(b"\r\n")) < 0:
        if len(buffer) > _MAX_LINE:
            raise ValueError("a NATS protocol line too long")
        data = await stream.receive_some(4096)
        if not data:
            raise trio.BrokenResourceError("the server closed the connection")
        buffer += data
    line = bytes(buffer[:end])
    del buffer[: end + 2]
    return line
