"""Cross-node command round trips: a command to a station held by another node (NATS
request/reply) against the same command to a station of the node itself, in the same run.

    python -m scripts.bench.nats_commands [--stations N] [--seconds S] [--pairs P] [--json FILE]

Two nodes in this process on one embedded PostgreSQL and one embedded nats-server; N stations
(raw OCPP-J WebSocket clients on an asyncio thread, answering every CALL at once) connect to
node B. For S seconds, one sender per station sends ClearCache after ClearCache through node B's
gateway (local), then through node A's gateway (remote: over NATS to B), P times alternating;
round trips per second and p50/p99 latency for each.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import pathlib
import statistics
import tempfile
import time
from typing import Any

import trio
from websockets.asyncio.client import connect

from csms.actors import Node
from csms.config import load_settings
from csms.node import open_node
from csms.runtime import AsyncioThread
from csms.storage import EmbeddedPostgres
from csms.transport.nats_server import EmbeddedNats

PASSWORD = "bench-password-0123456789"
BOOT = {"chargingStation": {"model": "Bench", "vendorName": "csms"}, "reason": "PowerUp"}


async def station(port: int, station_id: str, ready: asyncio.Event) -> None:
    """Boots, then answers every CALL with {"status": "Accepted"} (asyncio thread)."""
    token = base64.b64encode(f"{station_id}:{PASSWORD}".encode()).decode()
    async with connect(
        f"ws://127.0.0.1:{port}/ocpp/{station_id}",
        subprotocols=["ocpp2.0.1"],  # type: ignore[list-item]
        additional_headers={"Authorization": f"Basic {token}"},
    ) as ws:
        await ws.send(json.dumps([2, "boot", "BootNotification", BOOT]))
        while json.loads(await ws.recv())[0] != 3:
            pass
        ready.set()
        async for text in ws:
            frame = json.loads(text)
            if frame[0] == 2:
                await ws.send(json.dumps([3, frame[1], {"status": "Accepted"}]))


async def senders(node: Node, stations: list[str], seconds: float) -> list[float]:
    latencies: list[float] = []

    async def one(station_id: str) -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            start = time.perf_counter()
            await node.gateway.send(
                station_id,
                "ClearCache",
                {},
                requested_by="bench",
                deadline=trio.current_time() + 30,
            )
            latencies.append(time.perf_counter() - start)

    async with trio.open_nursery() as nursery:
        for station_id in stations:
            nursery.start_soon(one, station_id)
    return latencies


def summary(latencies: list[float], seconds: float) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "per_s": len(ordered) / seconds,
        "p50_ms": 1000 * statistics.median(ordered),
        "p99_ms": 1000 * ordered[int(0.99 * (len(ordered) - 1))],
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="csms-bench-cmd-") as directory:
        root = pathlib.Path(directory)
        pg, nats = EmbeddedPostgres(root / "pg"), EmbeddedNats(root / "nats")
        url = await trio.to_thread.run_sync(pg.start)
        nats_url = await trio.to_thread.run_sync(nats.start)
        thread = AsyncioThread(name="stations")
        await thread.start()

        def settings(node_id: str) -> Any:
            return load_settings(
                env={},
                overrides={
                    "database.url": url,
                    "nats.url": nats_url,
                    "node.id": node_id,
                    "ocpp.host": "127.0.0.1",
                    "ocpp.port": 0,
                    "ocpp.auto_register": True,
                    "v2g.ccee.fetch": False,
                    "log.level": "WARNING",
                },
            )

        try:
            async with open_node(settings("node-a")) as a, open_node(settings("node-b")) as b:
                ids = [f"BENCH{i:03d}" for i in range(args.stations)]
                readies = []

                async def spawn(station_id: str) -> None:
                    ready = asyncio.Event()
                    readies.append(ready)
                    asyncio.get_running_loop().create_task(station(b.ocpp_port, station_id, ready))
                    await ready.wait()

                for station_id in ids:
                    await thread.run(spawn, station_id)
                with trio.fail_after(60):  # node A has heard of every station on B
                    while True:
                        if all(a.gateway.is_connected(s) for s in ids):
                            break
                        await trio.sleep(0.05)
                local, remote = [], []
                for _ in range(args.pairs):  # alternating: the machine's load drifts
                    local += await senders(b, ids, args.seconds)
                    remote += await senders(a, ids, args.seconds)
        finally:
            await thread.stop()
            await trio.to_thread.run_sync(nats.stop)
            await trio.to_thread.run_sync(pg.stop)
    result = {
        "stations": args.stations,
        "seconds": args.seconds,
        "pairs": args.pairs,
        "local": summary(local, args.seconds * args.pairs),
        "remote": summary(remote, args.seconds * args.pairs),
    }
    ratio = result["remote"]["per_s"] / result["local"]["per_s"]
    print(f"{args.stations} stations on node B, {args.pairs} x {args.seconds} s each, alternating")
    for name in ("local", "remote"):
        row = result[name]
        print(
            f"{name:<7} {row['per_s']:>8,.0f}/s  p50 {row['p50_ms']:.2f} ms  "
            f"p99 {row['p99_ms']:.2f} ms"
        )
    print(f"remote / local: {ratio:.0%}")
    return result


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stations", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--pairs", type=int, default=2, help="local then remote, this often")
    parser.add_argument("--json", type=pathlib.Path)
    args = parser.parse_args()
    report = trio.run(main, args)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    cli()
