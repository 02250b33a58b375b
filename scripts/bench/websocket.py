"""WebSocket transport benchmark: csms.transport beside trio-websocket's server, in one run.

    python scripts/bench/websocket.py [--clients 1 100] [--seconds 5] [--rounds 3] [--idle 2000]

The servers run in this process, one after the other, each with the same echo handler; the load
generator is a separate process (bare trio streams driving websockets' sans-IO client, one task
per client, each keeping one message outstanding). For each server and client count it reports
round trips per second, the server process's CPU time per round trip, and client-side p50/p99
latency; the ratio (trio-websocket / csms.transport) is the figure that matters on a shared machine.
``--idle N`` also holds N idle connections and reports memory per connection (tracemalloc,
both servers alike).
"""

from __future__ import annotations

import argparse
import base64
import gc
import json
import os
import platform
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from typing import Any

import trio
import trio.lowlevel

MESSAGE = (
    '[2,"7f3c2a9e-1b4d-4c5e-9f0a-123456789abc","MeterValues",{"evseId":1,"meterValue":'
    '[{"timestamp":"2025-01-01T12:00:00Z","sampledValue":[{"value":1234.5,'
    '"measurand":"Energy.Active.Import.Register"}]}]}]'
)
STATION_PASSWORD = "Bench-password-0123456789"


# --- load generator (runs in its own process) ---------------------------------------------------


async def _client_session(
    port: int,
    index: int,
    compress: bool,
    ready: Callable[[], None],
    go: trio.Event,
    stop_at: list[float],
    latencies: list[float],
    hold: trio.Event | None,
) -> None:
    from websockets.client import ClientProtocol
    from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory
    from websockets.frames import Frame, Opcode
    from websockets.http11 import Response
    from websockets.uri import parse_uri

    station = f"CS{index:06d}"
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    proto = ClientProtocol(
        parse_uri(f"ws://127.0.0.1:{port}/ocpp/{station}"),
        subprotocols=["ocpp2.0.1"],  # type: ignore[list-item]
        extensions=[ClientPerMessageDeflateFactory()] if compress else None,
    )
    request = proto.connect()
    token = base64.b64encode(f"{station}:{STATION_PASSWORD}".encode()).decode()
    request.headers["Authorization"] = f"Basic {token}"
    proto.send_request(request)
    await stream.send_all(b"".join(proto.data_to_send()))
    connected = False
    while not connected:
        proto.receive_data(await stream.receive_some(65536))
        for event in proto.events_received():
            if isinstance(event, Response):
                assert event.status_code == 101, event.status_code
                connected = True
    ready()
    if hold is not None:
        await hold.wait()
        await stream.aclose()
        return
    await go.wait()
    payload = MESSAGE.encode()
    while time.perf_counter() < stop_at[0]:
        start = time.perf_counter()
        proto.send_text(payload)
        await stream.send_all(b"".join(proto.data_to_send()))
        answered = False
        while not answered:
            proto.receive_data(await stream.receive_some(65536))
            for event in proto.events_received():
                if isinstance(event, Frame) and event.opcode is Opcode.TEXT:
                    answered = True
            pending = proto.data_to_send()  # pongs
            if pending:
                await stream.send_all(b"".join(pending))
        latencies.append(time.perf_counter() - start)
    await stream.aclose()


async def load_generator(
    port: int, clients: int, seconds: float, compress: bool, idle: bool
) -> None:
    latencies: list[float] = []
    go, all_ready, hold = trio.Event(), trio.Event(), trio.Event()
    stop_at = [0.0]
    count = 0

    def ready() -> None:
        nonlocal count
        count += 1
        if count == clients:
            all_ready.set()

    async with trio.open_nursery() as nursery:
        for i in range(clients):
            nursery.start_soon(
                _client_session,
                port,
                i,
                compress,
                ready,
                go,
                stop_at,
                latencies,
                hold if idle else None,
            )
            if i % 100 == 99:
                await trio.lowlevel.checkpoint()  # let the ramp interleave with handshakes
        await all_ready.wait()
        print(json.dumps({"ready": True}), flush=True)
        if idle:
            await trio.wrap_file(sys.stdin).readline()  # hold until the parent says so
            hold.set()
            return
        stop_at[0] = time.perf_counter() + seconds
        start = time.perf_counter()
        go.set()
    elapsed = time.perf_counter() - start
    latencies.sort()
    print(
        json.dumps(
            {
                "round_trips": len(latencies),
                "elapsed": elapsed,
                "p50_ms": 1000 * latencies[len(latencies) // 2],
                "p99_ms": 1000 * latencies[int(len(latencies) * 0.99)],
            }
        ),
        flush=True,
    )


# --- servers (run in this process) --------------------------------------------------------------


class Arrivals:
    """Counts handlers that started; ``all_in`` is set when ``expected`` have."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.count = 0
        self.all_in = trio.Event()

    def arrived(self) -> None:
        self.count += 1
        if self.count >= self.expected:
            self.all_in.set()


async def serve_csms(clients: int, nursery: trio.Nursery, counter: Arrivals) -> int:
    from csms.transport import (
        ConnectionClosed,
        OcppWebSocket,
        StaticAuthenticator,
        WebSocketSettings,
        hash_password,
        serve_ocpp_websocket,
    )

    stored = hash_password(STATION_PASSWORD)
    auth = StaticAuthenticator({f"CS{i:06d}": stored for i in range(clients)})

    async def echo(conn: OcppWebSocket) -> None:
        counter.arrived()
        try:
            while True:
                await conn.send_text(await conn.receive_text())
        except ConnectionClosed:
            pass

    settings = WebSocketSettings(
        max_connections=max(25_000, clients + 10),
        ping_interval=None if os.environ.get("BENCH_NO_PING") else 30.0,
    )
    server = await nursery.start(
        lambda task_status: serve_ocpp_websocket(
            echo,
            settings=settings,
            authenticator=auth,
            host="127.0.0.1",
            port=0,
            task_status=task_status,
        )
    )
    return int(server.ports[0])


async def serve_trio_websocket(clients: int, nursery: trio.Nursery, counter: Arrivals) -> int:
    from trio_websocket import ConnectionClosed, WebSocketRequest, serve_websocket

    async def echo(request: WebSocketRequest) -> None:
        ws = await request.accept(subprotocol="ocpp2.0.1")
        counter.arrived()
        try:
            while True:
                await ws.send_message(await ws.get_message())
        except ConnectionClosed:
            pass

    server = await nursery.start(serve_websocket, echo, "127.0.0.1", 0, None)
    return int(server.port)


SERVERS: dict[str, Callable[[int, trio.Nursery, Arrivals], Awaitable[int]]] = {
    "trio-websocket": serve_trio_websocket,
    "csms.transport": serve_csms,
}


async def _spawn_generator(args: list[str]) -> trio.Process:
    return await trio.lowlevel.open_process(
        [sys.executable, __file__, "--generator", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )


async def _read_json(process: trio.Process, buffer: bytearray) -> dict[str, Any]:
    assert process.stdout is not None
    while b"\n" not in buffer:
        chunk = await process.stdout.receive_some(65536)
        if not chunk:
            raise RuntimeError("load generator ended early")
        buffer.extend(chunk)
    line, _, rest = bytes(buffer).partition(b"\n")
    buffer[:] = rest
    result: dict[str, Any] = json.loads(line)
    return result


async def measure_echo(server: str, clients: int, seconds: float, compress: bool) -> dict[str, Any]:
    counter = Arrivals(clients)
    async with trio.open_nursery() as nursery:
        port = await SERVERS[server](clients, nursery, counter)
        args = [str(port), str(clients), str(seconds), "1" if compress else "0", "0"]
        process = await _spawn_generator(args)
        buffer = bytearray()
        await _read_json(process, buffer)  # all connected
        cpu = time.process_time()
        result = await _read_json(process, buffer)
        result["server_cpu_us_per_rt"] = 1e6 * (time.process_time() - cpu) / result["round_trips"]
        result["rt_per_s"] = result["round_trips"] / result["elapsed"]
        await process.wait()
        nursery.cancel_scope.cancel()
    return result


async def measure_idle(server: str, clients: int) -> float:
    """Traced bytes per idle connection (after the handshake, handler waiting to receive)."""
    counter = Arrivals(clients)
    async with trio.open_nursery() as nursery:
        port = await SERVERS[server](clients, nursery, counter)
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        process = await _spawn_generator([str(port), str(clients), "0", "0", "1"])
        buffer = bytearray()
        await _read_json(process, buffer)
        await counter.all_in.wait()
        await trio.sleep(0.5)  # let the last handshakes' garbage go
        gc.collect()
        per_connection = (tracemalloc.get_traced_memory()[0] - before) / clients
        tracemalloc.stop()
        assert process.stdin is not None
        await process.stdin.send_all(b"quit\n")
        await process.wait()
        nursery.cancel_scope.cancel()
    return per_connection


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


async def main(args: argparse.Namespace) -> None:
    print(
        f"machine: nproc={os.cpu_count()} cpu={_cpu_model()!r} "
        f"python={platform.python_version()} trio={trio.__version__}"
    )
    report: dict[str, Any] = {"echo": [], "idle": []}
    cases = [(n, False) for n in args.clients] + [(n, True) for n in args.clients]
    for clients, compress in cases:
        best: dict[str, dict[str, Any]] = {}
        for _ in range(args.rounds):
            for server in SERVERS:
                if compress and server == "trio-websocket":
                    continue  # it cannot negotiate permessage-deflate
                result = await measure_echo(server, clients, args.seconds, compress)
                if server not in best or result["rt_per_s"] > best[server]["rt_per_s"]:
                    best[server] = result
        label = f"{clients} client(s){' with permessage-deflate' if compress else ''}"
        for server, result in best.items():
            print(
                f"{label:<40} {server:<15} {result['rt_per_s']:>9,.0f} rt/s  "
                f"server CPU {result['server_cpu_us_per_rt']:6.1f} µs/rt  "
                f"p50 {result['p50_ms']:.2f} ms  p99 {result['p99_ms']:.2f} ms"
            )
        if len(best) == 2:
            ours, theirs = best["csms.transport"], best["trio-websocket"]
            print(
                f"{'':<40} ratio: {ours['rt_per_s'] / theirs['rt_per_s']:.2f}x throughput, "
                f"{theirs['server_cpu_us_per_rt'] / ours['server_cpu_us_per_rt']:.2f}x less CPU "
                "per round trip"
            )
        report["echo"].append({"clients": clients, "compression": compress, **best})
    if args.idle:
        for server in SERVERS:
            per = await measure_idle(server, args.idle)
            print(f"idle {args.idle} connections  {server:<15} {per / 1024:6.1f} KiB each")
            report["idle"].append({"server": server, "connections": args.idle, "bytes_each": per})
    if args.json:
        await trio.Path(args.json).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--generator":
        port, clients, seconds, compress, idle = sys.argv[2:7]
        trio.run(
            load_generator, int(port), int(clients), float(seconds), compress == "1", idle == "1"
        )
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 100])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--idle", type=int, default=2000, help="0 to skip the memory figure")
    parser.add_argument("--json")
    trio.run(main, parser.parse_args())
