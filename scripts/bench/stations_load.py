"""Load generator for ``scripts/bench/stations.py``: simulated charge points, cheap per connection.

    python scripts/bench/stations_load.py PORT FIRST COUNT MODE SECONDS [SOURCE_ADDRESS]

MODE is ``idle`` (boot, then hold the connection and send a Heartbeat every ``SECONDS`` per
station, spread at random), ``heartbeat`` or ``meter`` (boot, then keep one CALL outstanding per
station for ``SECONDS``), or ``transactions`` (boot, then run whole transactions one after
another for ``SECONDS``, one CALL outstanding per station; see :func:`transaction_flow`).
Stations are ``BENCH{i:06d}`` for ``i`` in ``FIRST .. FIRST+COUNT-1``.

One asyncio process, one ``asyncio.Protocol`` per connection driven by callbacks (no task, no
coroutine per message). The opening handshake goes through the ``websockets`` sans-IO
``ClientProtocol`` (which checks the server's accept key and subprotocol); after it every CALL is
a pre-serialized, pre-masked frame shared by all connections (in ``transactions`` mode each CALL
is serialized and masked when sent: transaction ids, seqNos and timestamps differ), and the
server's frames are read by a minimal parser (unmasked frames only, as RFC 6455 has servers send
them; pings get a pong).

Protocol with the parent, one JSON object per line on stdout: ``{"ready": ...}`` once every
station has booted; then the parent writes ``go`` on stdin; in the saturating modes the result
follows when the time is up, in ``idle`` mode the parent writes ``quit`` when it is done.
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
import sys
import time
import uuid
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Run as a script, this directory comes first on sys.path and ``http.py`` beside this file would
# shadow the standard library's ``http`` (which websockets imports).
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

PASSWORD = "Bench-password-0123456789"
MASK = b"\x5a\x17\xc3\x2e"
CONCURRENT_HANDSHAKES = 64
MESSAGE_IDS = 64  # CALLs rotate over this many ids, so consecutive ids differ
#: The id token the stations of ``transactions`` present (registered Accepted in csms beforehand).
ID_TOKEN = {"idToken": "BENCH-TOKEN-0001", "type": "ISO14443"}


def station_id(i: int) -> str:
    return f"BENCH{i:06d}"


def _sampled_values() -> list[dict[str, Any]]:
    """10 sampled values of the kinds a three-phase AC charger reports every interval."""
    values: list[dict[str, Any]] = [
        {
            "value": 123456.5,
            "measurand": "Energy.Active.Import.Register",
            "context": "Sample.Periodic",
            "unitOfMeasure": {"unit": "Wh"},
        },
        {"value": 11040.0, "measurand": "Power.Active.Import", "unitOfMeasure": {"unit": "W"}},
    ]
    for phase in ("L1", "L2", "L3"):
        values.append({"value": 16.1, "measurand": "Current.Import", "phase": phase})
    for phase in ("L1-N", "L2-N", "L3-N"):
        values.append({"value": 229.8, "measurand": "Voltage", "phase": phase})
    values.append({"value": 54.0, "measurand": "SoC", "location": "EV"})
    values.append({"value": 32.0, "measurand": "Current.Offered", "unitOfMeasure": {"unit": "A"}})
    return values


PAYLOADS: dict[str, tuple[str, dict[str, Any]]] = {
    "boot": (
        "BootNotification",
        {"reason": "PowerUp", "chargingStation": {"model": "Bench-22", "vendorName": "csms"}},
    ),
    "heartbeat": ("Heartbeat", {}),
    "meter": (
        "MeterValues",
        {
            "evseId": 1,
            "meterValue": [
                {"timestamp": "2025-01-01T12:00:00Z", "sampledValue": _sampled_values()}
            ],
        },
    ),
}


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _meter_value(
    energy_wh: float, count: int, context: str = "Sample.Periodic"
) -> list[dict[str, Any]]:
    """One meter value: the first ``count`` of the 10 sampled values of (c), energy as given."""
    values = _sampled_values()[:count]
    values[0] = {**values[0], "value": round(energy_wh, 1), "context": context}
    return [{"timestamp": _now(), "sampledValue": values}]


def transaction_flow(rng: random.Random) -> Iterator[tuple[str, dict[str, Any]]]:
    """The CALLs of one station, for ever: whole transactions one after another.

    StatusNotification Occupied, Authorize (the registered ``ID_TOKEN``), TransactionEvent
    Started (with the token and the register at Transaction.Begin), 2-5 TransactionEvent Updated
    each with a meter value of 3-10 sampled values, TransactionEvent Ended (register at
    Transaction.End), StatusNotification Available. seqNo counts up from 0 in each transaction;
    the transaction id is a fresh UUID (unique across rounds sharing one database).
    """
    energy = 10_000.0 * rng.random()
    evse = {"id": 1, "connectorId": 1}
    while True:
        yield (
            "StatusNotification",
            {"timestamp": _now(), "connectorStatus": "Occupied", "evseId": 1, "connectorId": 1},
        )
        yield "Authorize", {"idToken": ID_TOKEN}
        tx = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        yield (
            "TransactionEvent",
            {
                "eventType": "Started",
                "timestamp": _now(),
                "triggerReason": "Authorized",
                "seqNo": 0,
                "transactionInfo": {"transactionId": tx, "chargingState": "Charging"},
                "idToken": ID_TOKEN,
                "evse": evse,
                "meterValue": _meter_value(energy, 1, "Transaction.Begin"),
            },
        )
        updates = rng.randint(2, 5)
        for seq in range(1, updates + 1):
            energy += 250.0 * rng.random()
            yield (
                "TransactionEvent",
                {
                    "eventType": "Updated",
                    "timestamp": _now(),
                    "triggerReason": "MeterValuePeriodic",
                    "seqNo": seq,
                    "transactionInfo": {"transactionId": tx, "chargingState": "Charging"},
                    "meterValue": _meter_value(energy, rng.randint(3, 10)),
                },
            )
        yield (
            "TransactionEvent",
            {
                "eventType": "Ended",
                "timestamp": _now(),
                "triggerReason": "EVCommunicationLost",
                "seqNo": updates + 1,
                "transactionInfo": {
                    "transactionId": tx,
                    "chargingState": "Idle",
                    "stoppedReason": "EVDisconnected",
                },
                "evse": evse,
                "meterValue": _meter_value(energy, 1, "Transaction.End"),
            },
        )
        yield (
            "StatusNotification",
            {"timestamp": _now(), "connectorStatus": "Available", "evseId": 1, "connectorId": 1},
        )


def masked_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """A client frame (FIN set, masked with the fixed ``MASK``)."""
    n = len(payload)
    if n < 126:
        head = bytes([0x80 | opcode, 0x80 | n])
    elif n < 65536:
        head = bytes([0x80 | opcode, 0x80 | 126]) + n.to_bytes(2, "big")
    else:
        head = bytes([0x80 | opcode, 0x80 | 127]) + n.to_bytes(8, "big")
    key = (MASK * (n // 4 + 1))[:n]
    body = (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(n, "big")
    return head + MASK + body


def call_frames(kind: str) -> list[bytes]:
    action, payload = PAYLOADS[kind]
    return [
        masked_frame(json.dumps([2, f"{kind[0]}{k:05d}", action, payload]).encode())
        for k in range(MESSAGE_IDS)
    ]


class Shared:
    """What all connections of this process share: frames, clock, latencies, counters."""

    def __init__(self, mode: str, seconds: float) -> None:
        self.mode = mode
        self.seconds = seconds
        self.boot = call_frames("boot")[0]
        kind = "heartbeat" if mode == "idle" else mode
        self.frames = call_frames(kind) if kind in PAYLOADS else []
        self.latencies = array("d")
        # latencies per action: (action, latencies) of the last answer first looked up
        self.by_action: dict[str, array[float]] = {}
        self.stop_at = 0.0
        self.running = 0
        self.errors = 0
        self.closed = 0
        self.error_sample = ""
        self.all_done: asyncio.Future[None] | None = None


class Station(asyncio.Protocol):
    __slots__ = (
        "action",
        "booted",
        "buffer",
        "flow",
        "handshake",
        "k",
        "sent_at",
        "shared",
        "transport",
    )

    def __init__(
        self, shared: Shared, url: str, sid: str, booted: asyncio.Future[None], index: int
    ) -> None:
        from websockets.client import ClientProtocol
        from websockets.uri import parse_uri

        self.shared = shared
        self.booted = booted
        self.buffer = bytearray()
        self.k = 0
        self.sent_at = 0.0
        self.transport: Any = None
        # the action of the CALL outstanding, and the CALLs to come ("transactions" mode); the
        # same station runs the same transactions against every server (seeded by its index)
        self.action = PAYLOADS.get(shared.mode, ("Heartbeat",))[0]
        self.flow = (
            transaction_flow(random.Random(index)) if shared.mode == "transactions" else None
        )
        self.handshake: Any = ClientProtocol(
            parse_uri(url),
            subprotocols=["ocpp2.0.1"],  # type: ignore[list-item]
        )
        request = self.handshake.connect()
        token = base64.b64encode(f"{sid}:{PASSWORD}".encode()).decode()
        request.headers["Authorization"] = f"Basic {token}"
        self.handshake.send_request(request)

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        transport.write(b"".join(self.handshake.data_to_send()))

    def connection_lost(self, exc: Exception | None) -> None:
        self.shared.closed += 1
        if not self.booted.done():
            self.booted.set_exception(ConnectionError(f"closed during boot: {exc}"))
        elif self.sent_at:
            self._finish()

    def data_received(self, data: bytes) -> None:
        if self.handshake is not None:
            self._handshake_data(data)
            return
        buffer = self.buffer
        buffer += data
        while len(buffer) >= 2:
            n = buffer[1] & 0x7F
            start = 2
            if n == 126:
                if len(buffer) < 4:
                    return
                n, start = int.from_bytes(buffer[2:4], "big"), 4
            elif n == 127:
                if len(buffer) < 10:
                    return
                n, start = int.from_bytes(buffer[2:10], "big"), 10
            if len(buffer) < start + n:
                return
            opcode = buffer[0] & 0x0F
            payload = bytes(buffer[start : start + n])
            del buffer[: start + n]
            if opcode == 0x1:
                self._answer(payload)
            elif opcode == 0x9:
                self.transport.write(masked_frame(payload, 0xA))
            elif opcode == 0x8:
                self.transport.write(masked_frame(payload[:2], 0x8))

    def _handshake_data(self, data: bytes) -> None:
        from websockets.http11 import Response

        self.handshake.receive_data(data)
        for event in self.handshake.events_received():
            if isinstance(event, Response):
                if event.status_code != 101 or self.handshake.subprotocol != "ocpp2.0.1":
                    self.booted.set_exception(
                        ConnectionError(f"handshake: HTTP {event.status_code}")
                    )
                    self.transport.close()
                    return
                self.handshake = None  # the rest is cheap frames; drop the parser's memory
                self.transport.write(self.shared.boot)
                return

    def _answer(self, payload: bytes) -> None:
        shared = self.shared
        if payload[1:2] == b"4":  # CALLERROR
            shared.errors += 1
            shared.error_sample = payload[:300].decode(errors="replace")
        elif payload[1:2] == b"3" and self.action == "Authorize" and b'"Accepted"' not in payload:
            shared.errors += 1  # the token is registered: anything else is wrong
            shared.error_sample = payload[:300].decode(errors="replace")
        if not self.booted.done():
            self.booted.set_result(None)
            return
        if not self.sent_at:
            return  # an idle station's Heartbeat answer
        now = time.perf_counter()
        if now <= shared.stop_at:
            latency = now - self.sent_at
            shared.latencies.append(latency)
            if self.flow is not None:
                by_action = shared.by_action.get(self.action)
                if by_action is None:
                    by_action = shared.by_action[self.action] = array("d")
                by_action.append(latency)
            self.send_next(now)
        else:
            self._finish()

    def send_next(self, now: float) -> None:
        self.k = (self.k + 1) % MESSAGE_IDS
        if self.flow is None:
            self.sent_at = now
            self.transport.write(self.shared.frames[self.k])
            return
        self.action, payload = next(self.flow)
        frame = masked_frame(json.dumps([2, f"t{self.k:05d}", self.action, payload]).encode())
        self.sent_at = time.perf_counter()  # after building the frame: the server's time only
        self.transport.write(frame)

    def heartbeat(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.k = (self.k + 1) % MESSAGE_IDS
            self.transport.write(self.shared.frames[self.k])
            asyncio.get_running_loop().call_later(self.shared.seconds, self.heartbeat)

    def _finish(self) -> None:
        self.sent_at = 0.0
        self.shared.running -= 1
        done = self.shared.all_done
        if self.shared.running == 0 and done is not None and not done.done():
            done.set_result(None)


async def run(port: int, first: int, count: int, mode: str, seconds: float, source: str) -> None:
    loop = asyncio.get_running_loop()
    shared = Shared(mode, seconds)
    stations: list[Station] = []
    gate = asyncio.Semaphore(CONCURRENT_HANDSHAKES)
    started = time.perf_counter()

    async def connect(i: int) -> None:
        sid = station_id(i)
        async with gate:
            booted: asyncio.Future[None] = loop.create_future()
            url = f"ws://127.0.0.1:{port}/ocpp/{sid}"
            _, proto = await loop.create_connection(
                lambda: Station(shared, url, sid, booted, i),
                "127.0.0.1",
                port,
                local_addr=(source, 0),
            )
            stations.append(proto)
            await booted

    await asyncio.gather(*(connect(i) for i in range(first, first + count)))
    print(json.dumps({"ready": count, "connect_s": time.perf_counter() - started}), flush=True)
    await loop.run_in_executor(None, sys.stdin.readline)  # "go"
    if mode == "idle":
        for st in stations:
            loop.call_later(random.uniform(0, seconds), st.heartbeat)
        await loop.run_in_executor(None, sys.stdin.readline)  # "quit"
        print(json.dumps({"errors": shared.errors, "closed": shared.closed}), flush=True)
        return
    shared.all_done = loop.create_future()
    shared.running = len(stations)
    cpu = time.process_time()
    begin = time.perf_counter()
    shared.stop_at = begin + seconds
    for st in stations:
        st.send_next(time.perf_counter())
    await asyncio.wait_for(shared.all_done, seconds + 60)
    result = {
        "n": len(shared.latencies),
        "elapsed": shared.stop_at - begin,
        "cpu_s": time.process_time() - cpu,
        "errors": shared.errors,
        "closed": shared.closed,
        "error_sample": shared.error_sample,
        "latencies_us": [round(x * 1e6) for x in shared.latencies],
        "by_action_us": {
            action: [round(x * 1e6) for x in values] for action, values in shared.by_action.items()
        },
    }
    print(json.dumps(result), flush=True)
    for st in stations:
        st.transport.close()


def main() -> None:
    port, first, count, mode, seconds = sys.argv[1:6]
    source = sys.argv[6] if len(sys.argv) > 6 else "127.0.0.1"
    asyncio.run(run(int(port), int(first), int(count), mode, float(seconds), source))


if __name__ == "__main__":
    main()
