"""The wire fuzzer: frames of `_fuzz_frames` through the node's real listener from many
connections, with a hand-made WebSocket client (a library would refuse to send bad UTF-8 or
to write a frame before the handshake completes).

Every connection sends its BootNotification in the same write as its upgrade request (a frame
before the handshake completes). After each fuzz frame a probe (a Heartbeat CALL) is sent:
what arrives before the probe's answer is what the fuzz frame caused, in order, since the node
answers a connection's frames in turn. A canary (a simulated station charging throughout) must
never notice: no reconnection, no error.
"""

from __future__ import annotations

import base64
import logging
import os
from collections import Counter
from typing import Any

import attrs
import orjson
import trio

from ._fuzz_frames import TEXT, Frame, FrameMaker

__all__ = ["Closed", "FuzzOptions", "FuzzResult", "RawClient", "fuzz_connection"]

log = logging.getLogger("csms.soak")


@attrs.frozen
class FuzzOptions:
    frames: int = 20_000
    seed: int = 0
    connections: int = 16
    max_message_size: int = 64 * 1024  # the node is started with this limit


class Closed(Exception):
    def __init__(self, code: int | None) -> None:
        super().__init__(f"closed with {code}")
        self.code = code


def _frame(opcode: int, payload: bytes, fin: bool = True) -> bytes:
    """A client frame, masked with a zero key (masking is required; any key is allowed)."""
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + n.to_bytes(2, "big")
    else:
        head += bytes([0x80 | 127]) + n.to_bytes(8, "big")
    return head + b"\0\0\0\0" + payload


class RawClient:
    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.buffer = bytearray()

    @classmethod
    async def open(
        cls, port: int, station_id: str, password: str, early: bytes = b""
    ) -> tuple[RawClient, int]:
        """Connect and upgrade, sending ``early`` (frames) right behind the request; returns
        the client and the HTTP status."""
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        key = base64.b64encode(os.urandom(16)).decode()
        auth = base64.b64encode(f"{station_id}:{password}".encode()).decode()
        request = (
            f"GET /ocpp/{station_id} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Sec-WebSocket-Protocol: ocpp2.0.1\r\nAuthorization: Basic {auth}\r\n\r\n"
        )
        client = cls(stream)
        await stream.send_all(request.encode() + early)
        while b"\r\n\r\n" not in client.buffer:
            await client._more()
        head, _, rest = bytes(client.buffer).partition(b"\r\n\r\n")
        client.buffer = bytearray(rest)
        return client, int(head.split(b" ", 2)[1])

    async def _more(self) -> None:
        data = await self.stream.receive_some(65536)
        if not data:
            raise Closed(None)
        self.buffer += data

    async def send(self, frame: Frame) -> None:
        await self.stream.send_all(b"".join(_frame(op, data, fin) for op, fin, data in frame.parts))

    async def send_text(self, text: bytes) -> None:
        await self.stream.send_all(_frame(TEXT, text))

    async def receive(self) -> list[Any]:
        """The next text message, parsed (pings answered); ``Closed`` with the close code."""
        while True:
            while len(self.buffer) < 2:
                await self._more()
            opcode, n = self.buffer[0] & 0x0F, self.buffer[1] & 0x7F
            start = {126: 4, 127: 10}.get(n, 2)
            if start > 2:
                n = int.from_bytes(self.buffer[2:start], "big")
            if len(self.buffer) < start or len(self.buffer) < start + n:
                await self._more()
                continue
            payload = bytes(self.buffer[start : start + n])
            del self.buffer[: start + n]
            if opcode == 8:
                raise Closed(int.from_bytes(payload[:2], "big") if len(payload) >= 2 else None)
            if opcode == 9:
                await self.stream.send_all(_frame(10, payload))
            elif opcode == TEXT:
                message: list[Any] = orjson.loads(payload)
                return message

    async def aclose(self) -> None:
        await trio.aclose_forcefully(self.stream)


BOOT = orjson.dumps(
    [2, "boot", "BootNotification", {"reason": "PowerUp",
     "chargingStation": {"model": "Fuzz", "vendorName": "csms-soak"}}]
)  # fmt: skip


@attrs.define
class FuzzResult:
    sent: Counter[str] = attrs.field(factory=Counter)  # frames by kind
    outcomes: Counter[str] = attrs.field(factory=Counter)  # "kind:outcome"
    violations: list[str] = attrs.field(factory=list)
    connections: int = 0
    pre_boot_refused: int = 0

    def violation(self, text: str) -> None:
        if len(self.violations) < 100:
            self.violations.append(text)
        self.outcomes["violation"] += 1


async def _connect(
    port: int, station_id: str, password: str, result: FuzzResult, *, first_connection: bool
) -> RawClient:
    """A fresh connection: a Heartbeat before the boot and the boot, both written before the
    handshake's answer arrived. On the station's first connection the Heartbeat is refused
    (SecurityError); later the CSMS knows the station booted already (no reboot in between:
    Part 2 B01-B03 do not make it boot again) and may answer it."""
    early = _frame(TEXT, b'[2, "early", "Heartbeat", {}]') + _frame(TEXT, BOOT)
    client, status = await RawClient.open(port, station_id, password, early)
    result.connections += 1
    if status != 101:
        raise RuntimeError(f"{station_id}: upgrade refused with HTTP {status}")
    first, second = await client.receive(), await client.receive()
    if first[:2] == [4, "early"] and first[2] == "SecurityError":
        result.pre_boot_refused += 1
    elif first_connection or first[:2] != [3, "early"]:
        result.violation(f"{station_id}: Heartbeat before boot answered {first!r}")
    if second[:2] != [3, "boot"] or second[2].get("status") != "Accepted":
        result.violation(f"{station_id}: boot answered {second!r}")
    return client


async def fuzz_connection(
    port: int, station_id: str, password: str, frames: list[Frame], result: FuzzResult
) -> None:
    client = await _connect(port, station_id, password, result, first_connection=True)
    try:
        for number, frame in enumerate(frames):
            result.sent[frame.kind] += 1
            probe = f"p{number}"
            try:
                await client.send(frame)
                await client.send_text(orjson.dumps([2, probe, "Heartbeat", {}]))
                replies = []
                while (reply := await client.receive())[:2] != [3, probe]:
                    replies.append(reply)
            except (Closed, trio.BrokenResourceError) as exc:
                code = exc.code if isinstance(exc, Closed) else None
                _judge_close(frame, code, result, station_id)
                await client.aclose()
                client = await _connect(port, station_id, password, result, first_connection=False)
                continue
            _judge(frame, replies, result, station_id)
    finally:
        await client.aclose()


def _judge_close(frame: Frame, code: int | None, result: FuzzResult, station_id: str) -> None:
    result.outcomes[f"{frame.kind}:closed {code}"] += 1
    if frame.expect != f"close:{code}":
        result.violation(f"{station_id} {frame.kind}: closed with {code}, expected {frame.expect}")


def _judge(frame: Frame, replies: list[Any], result: FuzzResult, station_id: str) -> None:
    kinds = [r[0] if r else None for r in replies]
    outcome = "answered" if replies else "silent"
    result.outcomes[f"{frame.kind}:{outcome}"] += 1
    expect = frame.expect
    replied = any(len(r) > 1 and r[1] == frame.message_id for r in replies)
    if (
        (expect == "reply" and not replied)
        or (expect == "callerror" and 4 not in kinds)
        or (expect == "answered" and not replied and 4 not in kinds)
        or expect.startswith("close:")
    ):
        sent = frame.parts[0][2][:120]
        got = f"{replies!r:.200}"
        result.violation(f"{station_id} {frame.kind}: {expect} expected, got {got} to {sent!r}")


def plan(options: FuzzOptions) -> list[list[Frame]]:
    """The seeded frames, dealt to the connections in turn."""
    maker = FrameMaker(options.seed, max_message_size=options.max_message_size)
    out: list[list[Frame]] = [[] for _ in range(options.connections)]
    for i in range(options.frames):
        out[i % options.connections].append(maker.make())
    return out
