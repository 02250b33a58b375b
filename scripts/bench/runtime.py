"""Runtime benchmark: the actor layer beside bare trio memory channels, measured in one run.

    python scripts/bench/runtime.py [--quick] [--json FILE]

Each figure is paired with the same operation done with bare trio (the floor no actor layer can
beat) and the ratio is printed; the target is the runtime within 1.3x of bare trio on each.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import statistics
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from typing import Any

import trio
import trio.testing

from csms.runtime import Actor, ChildSpec, DynamicSupervisor, RestartType


async def handle(message: object) -> object:
    return message


class Sink(Actor):
    async def receive(self, message: Any) -> Any:
        return await handle(message)


class Idle(Actor):
    pass


# -- tell throughput ---------------------------------------------------------------------------


async def bare_tell(n: int) -> float:
    send, receive = trio.open_memory_channel[object](1000)
    done = trio.Event()

    async def consumer() -> None:
        count = 0
        async for message in receive:
            await handle(message)
            count += 1
            if count == n:
                done.set()
                return

    async with trio.open_nursery() as nursery:
        nursery.start_soon(consumer)
        start = time.perf_counter()
        for i in range(n):
            await send.send(i)
        await done.wait()
        return time.perf_counter() - start


class Counter(Actor):
    def __init__(self, n: int, done: trio.Event) -> None:
        self.n, self.done, self.count = n, done, 0

    async def receive(self, message: Any) -> Any:
        await handle(message)
        self.count += 1
        if self.count == self.n:
            self.done.set()


async def actor_tell(n: int) -> float:
    done = trio.Event()
    dyn = DynamicSupervisor()
    async with trio.open_nursery() as nursery:
        await nursery.start(dyn.run)
        ref = await dyn.start_child(ChildSpec.actor("sink", lambda: Counter(n, done)))
        start = time.perf_counter()
        for i in range(n):
            await ref.tell(i)
        await done.wait()
        elapsed = time.perf_counter() - start
        await dyn.stop()
    return elapsed


# -- ask round trips ---------------------------------------------------------------------------


async def bare_ask(n: int) -> float:
    send, receive = trio.open_memory_channel[tuple[object, trio.MemorySendChannel[object]]](1000)

    async def server() -> None:
        async for message, reply in receive:
            reply.send_nowait(await handle(message))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(server)
        start = time.perf_counter()
        for i in range(n):
            reply_send, reply_receive = trio.open_memory_channel[object](1)
            await send.send((i, reply_send))
            await reply_receive.receive()
        elapsed = time.perf_counter() - start
        nursery.cancel_scope.cancel()
    return elapsed


async def actor_ask(n: int) -> float:
    dyn = DynamicSupervisor()
    async with trio.open_nursery() as nursery:
        await nursery.start(dyn.run)
        ref = await dyn.start_child(ChildSpec.actor("sink", Sink))
        start = time.perf_counter()
        for i in range(n):
            await ref.ask(i, timeout=5)
        elapsed = time.perf_counter() - start
        await dyn.stop()
    return elapsed


# -- spawn cost and idle memory ----------------------------------------------------------------


async def _idle(
    receive: trio.MemoryReceiveChannel[object],
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    task_status.started()
    async for _ in receive:
        pass


async def bare_spawn(n: int, hold: Callable[[], Awaitable[None]]) -> float:
    """n idle tasks, each on its own channel: start_soon, no waiting for a start-up."""
    senders = []
    async with trio.open_nursery() as nursery:
        start = time.perf_counter()
        for _ in range(n):
            send, receive = trio.open_memory_channel[object](1000)
            senders.append(send)
            nursery.start_soon(_idle, receive)
        await trio.testing.wait_all_tasks_blocked()
        elapsed = time.perf_counter() - start
        await hold()
        nursery.cancel_scope.cancel()
    return elapsed


async def bare_start(n: int, hold: Callable[[], Awaitable[None]]) -> float:
    """n idle tasks started one by one with nursery.start (waits for task_status.started)."""
    senders = []
    async with trio.open_nursery() as nursery:
        start = time.perf_counter()
        for _ in range(n):
            send, receive = trio.open_memory_channel[object](1000)
            senders.append(send)
            await nursery.start(_idle, receive)
        elapsed = time.perf_counter() - start
        await hold()
        nursery.cancel_scope.cancel()
    return elapsed


def _idle_spec(i: int) -> ChildSpec:
    return ChildSpec.actor(f"a{i}", Idle, restart=RestartType.TEMPORARY)


async def actor_spawn(n: int, hold: Callable[[], Awaitable[None]]) -> float:
    """n registered actors with start_child_nowait (the peer of start_soon)."""
    dyn = DynamicSupervisor()
    async with trio.open_nursery() as nursery:
        await nursery.start(dyn.run)
        start = time.perf_counter()
        for i in range(n):
            dyn.start_child_nowait(_idle_spec(i), name=f"a{i}")
        await trio.testing.wait_all_tasks_blocked()
        elapsed = time.perf_counter() - start
        await hold()
        await dyn.stop()
    return elapsed


async def actor_start(n: int, hold: Callable[[], Awaitable[None]]) -> float:
    """n registered actors with start_child, each awaited until on_start ran (peer of start)."""
    dyn = DynamicSupervisor()
    async with trio.open_nursery() as nursery:
        await nursery.start(dyn.run)
        start = time.perf_counter()
        for i in range(n):
            await dyn.start_child(_idle_spec(i), name=f"a{i}")
        elapsed = time.perf_counter() - start
        await hold()
        await dyn.stop()
    return elapsed


def memory_per_task(
    fn: Callable[[int, Callable[[], Awaitable[None]]], Awaitable[float]], n: int
) -> float:
    """Bytes held per idle task/actor while all n are alive (tracemalloc, same for both sides)."""
    held: list[int] = []

    async def hold() -> None:
        gc.collect()
        held.append(tracemalloc.get_traced_memory()[0])

    async def main() -> None:
        gc.collect()
        base = tracemalloc.get_traced_memory()[0]
        await fn(n, hold)
        held[0] -= base

    tracemalloc.start()
    try:
        trio.run(main)
    finally:
        tracemalloc.stop()
    return held[0] / n


async def nothing() -> None:
    return None


# -- driver ------------------------------------------------------------------------------------


def best_of(runs: int, fn: Callable[[int], Awaitable[float]], n: int) -> float:
    return min(trio.run(fn, n) for _ in range(runs))


def spawn_best(runs: int, fn: Any, n: int) -> float:
    return min(trio.run(fn, n, nothing) for _ in range(runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts, one run each")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    runs = 1 if args.quick else 5
    n_msgs = 50_000 if args.quick else 200_000
    n_asks = 20_000 if args.quick else 100_000
    spawn_counts = [10_000] if args.quick else [10_000, 100_000]

    rows: list[dict[str, Any]] = []

    def row(name: str, unit: str, bare: float, ours: float, higher_is_better: bool) -> None:
        ratio = (bare / ours) if higher_is_better else (ours / bare)
        rows.append(
            {"figure": name, "unit": unit, "bare_trio": bare, "runtime": ours, "slowdown": ratio}
        )
        print(f"{name:<34} {bare:>14,.1f} {ours:>14,.1f} {unit:<10} {ratio:>6.2f}x", flush=True)

    print(f"{'figure':<34} {'bare trio':>14} {'runtime':>14} {'unit':<10} {'ratio':>7}")
    bare = best_of(runs, bare_tell, n_msgs)
    ours = best_of(runs, actor_tell, n_msgs)
    row("tell throughput", "msg/s", n_msgs / bare, n_msgs / ours, True)
    bare = best_of(runs, bare_ask, n_asks)
    ours = best_of(runs, actor_ask, n_asks)
    row("ask round trips", "rt/s", n_asks / bare, n_asks / ours, True)
    for n in spawn_counts:
        spawn_runs = max(1, runs // 2)
        bare = spawn_best(spawn_runs, bare_spawn, n)
        ours = spawn_best(spawn_runs, actor_spawn, n)
        row(f"spawn {n:,} (start_soon / _nowait)", "s", bare, ours, False)
        row(f"  per actor ({n:,})", "us", bare / n * 1e6, ours / n * 1e6, False)
        bare = spawn_best(spawn_runs, bare_start, n)
        ours = spawn_best(spawn_runs, actor_start, n)
        row(f"start {n:,} (start / start_child)", "s", bare, ours, False)
        row(f"  per actor ({n:,})", "us", bare / n * 1e6, ours / n * 1e6, False)
        mem_bare = memory_per_task(bare_spawn, n)
        mem_ours = memory_per_task(actor_spawn, n)
        row(f"memory per idle actor ({n:,})", "KiB", mem_bare / 1024, mem_ours / 1024, False)

    worst = max(r["slowdown"] for r in rows)
    median = statistics.median(r["slowdown"] for r in rows)
    print(
        f"worst ratio {worst:.2f}x (target <= 1.30x), median {median:.2f}x; "
        f"python {platform.python_version()}, trio {trio.__version__}"
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {"python": platform.python_version(), "trio": trio.__version__, "rows": rows},
                f,
                indent=2,
            )


if __name__ == "__main__":
    main()
